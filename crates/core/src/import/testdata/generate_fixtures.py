#!/usr/bin/env python3
"""Writes the import fixtures in this directory, each from its format's public documentation.

Independent of the Rust code on purpose: if our importers read what this script writes, they
agree with a second implementation of each format, not merely with themselves.

    python3 -m venv /tmp/fixture-venv
    /tmp/fixture-venv/bin/pip install cryptography pynacl argon2-cffi
    /tmp/fixture-venv/bin/python generate_fixtures.py

Salts, nonces and keys are derived from fixed seeds so the output is reproducible, except
Ente's: libsodium draws a secretstream's header itself, so that file changes on every run
(and reads the same). The key
derivation parameters are smaller than the apps' defaults where the file records them (the
importers read them from the file), to keep the debug-build tests quick; 2FAS's, which the
app fixes, is the real value.
"""

import base64
import hashlib
import json
import os
import struct
import uuid

import argon2.low_level as argon2
import nacl.bindings as sodium
import nacl.pwhash
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))


def seeded(label, n):
    """n deterministic bytes for a salt, nonce or key."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:n]


def b32(secret_bytes):
    return base64.b32encode(secret_bytes).decode().rstrip("=")


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(HERE, name), mode) as f:
        f.write(data)


def dump(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


# The accounts every fixture carries (where the format can express them).
ALICE = dict(issuer="GitHub", name="alice@example.com", type="totp", algo="SHA1", digits=6,
             period=30, counter=0, secret="JBSWY3DPEHPK3PXP")
BOB = dict(issuer="ACME Co", name="bob", type="totp", algo="SHA256", digits=8, period=60,
           counter=0, secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
CAROL = dict(issuer="", name="carol", type="hotp", algo="SHA512", digits=6, period=30,
             counter=42, secret="MZXW6YTB")
GABEN = dict(issuer="Steam", name="gaben", type="steam", algo="SHA1", digits=5, period=30,
             counter=0, secret="KRSXG5BNKN2GKYLN")
ACCOUNTS = [ALICE, BOB, CAROL, GABEN]


def raw_secret(account):
    text = account["secret"]
    return base64.b32decode(text + "=" * (-len(text) % 8))


# ---- Google Authenticator: protobuf MigrationPayload, encoded by hand ----

def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, value):
    return varint(number << 3 | 2) + varint(len(value)) + value


def ga_params(secret, name, issuer, algorithm, digits, otp_type, counter):
    return (field_bytes(1, secret) + field_bytes(2, name.encode()) + field_bytes(3, issuer.encode())
            + field_varint(4, algorithm) + field_varint(5, digits) + field_varint(6, otp_type)
            + field_varint(7, counter))


def ga_line(params_list, batch_size, batch_index, batch_id):
    payload = b"".join(field_bytes(1, p) for p in params_list)
    payload += field_varint(2, 1) + field_varint(3, batch_size) + field_varint(4, batch_index)
    payload += field_varint(5, batch_id)
    data = base64.b64encode(payload).decode()
    quoted = data.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    return f"otpauth-migration://offline?data={quoted}"


def google():
    # Algorithm 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5; digits 1 six, 2 eight; type 1 HOTP, 2 TOTP.
    first = [
        ga_params(raw_secret(ALICE), "GitHub:alice@example.com", "GitHub", 1, 1, 2, 0),
        ga_params(raw_secret(BOB), "bob", "ACME Co", 2, 2, 2, 0),
        ga_params(raw_secret(CAROL), "carol", "", 3, 1, 1, 42),
        ga_params(b"hello", "md5", "Broken", 4, 1, 2, 0),
    ]
    second = [ga_params(b"hello", "Example:dave", "Example", 0, 0, 0, 0)]
    lines = [
        ga_line(first, 3, 0, 7),
        ga_line(second, 3, 1, 7),
        ga_line(first, 3, 0, 7),  # the same QR code scanned twice
        "otpauth-migration://offline?data=AAAA-not-base64!!",
    ]
    write("google_authenticator.txt", "\n".join(lines) + "\n")


# ---- Aegis (docs/vault.md) ----

def aegis_entries():
    entries = []
    for i, a in enumerate(ACCOUNTS):
        info = {"secret": a["secret"], "algo": a["algo"], "digits": a["digits"]}
        if a["type"] == "hotp":
            info["counter"] = a["counter"]
        else:
            info["period"] = a["period"]
        entries.append({
            "type": a["type"], "uuid": str(uuid.UUID(bytes=seeded(f"aegis-entry-{i}", 16))),
            "name": a["name"], "issuer": a["issuer"], "note": "", "favorite": False,
            "icon": None, "info": info,
        })
    entries.append({"type": "yandex", "uuid": str(uuid.UUID(bytes=seeded("aegis-y", 16))),
                    "name": "ivan", "issuer": "Yandex", "icon": None,
                    "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA256", "digits": 8,
                             "period": 30, "pin": "1234"}})
    entries.append({"type": "totp", "uuid": str(uuid.UUID(bytes=seeded("aegis-b", 16))),
                    "name": "mallory", "issuer": "Broken", "icon": None,
                    "info": {"secret": "NOT0BASE32", "algo": "SHA1", "digits": 6, "period": 30}})
    return {"version": 1, "entries": entries}


def aegis():
    write("aegis_plain.json", dump({"version": 1, "header": {"slots": None, "params": None},
                                    "db": aegis_entries()}))

    master_key = seeded("aegis-master", 32)
    password = b"aegis-test-password"
    n, r, p = 1024, 8, 1  # Aegis itself uses n = 32768; the file records the value.
    salt = seeded("aegis-salt", 32)
    slot_key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32)

    def wrap(key, nonce_label):
        nonce = seeded(nonce_label, 12)
        sealed = AESGCM(key).encrypt(nonce, master_key, None)
        return sealed[:-16].hex(), {"nonce": nonce.hex(), "tag": sealed[-16:].hex()}

    # A biometric slot first: its key lives in an Android keystore, so it is random here.
    bio_key, bio_params = wrap(seeded("aegis-biometric-key", 32), "aegis-bio-nonce")
    pw_key, pw_params = wrap(slot_key, "aegis-pw-nonce")
    db_nonce = seeded("aegis-db-nonce", 12)
    content = json.dumps(aegis_entries()).encode()
    sealed = AESGCM(master_key).encrypt(db_nonce, content, None)
    vault = {
        "version": 1,
        "header": {
            "slots": [
                {"type": 2, "uuid": str(uuid.UUID(bytes=seeded("aegis-slot-bio", 16))),
                 "key": bio_key, "key_params": bio_params},
                {"type": 1, "uuid": str(uuid.UUID(bytes=seeded("aegis-slot-pw", 16))),
                 "key": pw_key, "key_params": pw_params, "n": n, "r": r, "p": p,
                 "salt": salt.hex(), "repaired": True, "is_backup": False},
            ],
            "params": {"nonce": db_nonce.hex(), "tag": sealed[-16:].hex()},
        },
        "db": base64.b64encode(sealed[:-16]).decode(),
    }
    write("aegis_encrypted.json", dump(vault))


# ---- 2FAS ----

def twofas_services():
    services = []
    for i, a in enumerate(ACCOUNTS):
        otp = {"account": a["name"], "digits": a["digits"], "period": a["period"],
               "algorithm": a["algo"], "counter": a["counter"],
               "tokenType": a["type"].upper(), "source": "Link"}
        if a["issuer"]:
            otp["issuer"] = a["issuer"]
            otp["label"] = f"{a['issuer']}:{a['name']}"
        services.append({"name": a["issuer"] or "", "secret": a["secret"],
                         "updatedAt": 1700000000000 + i, "otp": otp,
                         "order": {"position": i}})
    services.append({"name": "Broken", "secret": "JBSWY3DPEHPK3PXP", "updatedAt": 1700000000009,
                     "otp": {"account": "mallory", "issuer": "Broken", "digits": 6,
                             "period": 30, "algorithm": "MD5", "tokenType": "TOTP"},
                     "order": {"position": 9}})
    return services


def twofas():
    base = {"services": twofas_services(), "groups": [], "updatedAt": 1700000000000,
            "schemaVersion": 4, "appVersionCode": 5000000, "appVersionName": "5.0.0",
            "appOrigin": "android"}
    write("twofas_plain.2fas", dump(base))

    password = b"2fas-test-password"
    salt = seeded("2fas-salt", 256)
    key = hashlib.pbkdf2_hmac("sha256", password, salt, 10000, 32)

    def seal(plaintext, nonce_label):
        nonce = seeded(nonce_label, 12)
        sealed = AESGCM(key).encrypt(nonce, plaintext, None)
        return ":".join(base64.b64encode(x).decode() for x in (sealed, salt, nonce))

    encrypted = dict(base)
    encrypted["services"] = []
    encrypted["servicesEncrypted"] = seal(json.dumps(twofas_services()).encode(), "2fas-nonce")
    encrypted["reference"] = seal(b"reference text of this test file", "2fas-ref-nonce")
    write("twofas_encrypted.2fas", dump(encrypted))


# ---- andOTP ----

def andotp_entries():
    entries = []
    for a in ACCOUNTS:
        e = {"secret": a["secret"], "issuer": a["issuer"], "label": a["name"],
             "digits": a["digits"], "type": a["type"].upper(), "algorithm": a["algo"],
             "thumbnail": "Default", "last_used": 0, "used_frequency": 0, "tags": []}
        if a["type"] == "hotp":
            e["counter"] = a["counter"]
        else:
            e["period"] = a["period"]
        entries.append(e)
    entries.append({"secret": "JBSWY3DPEHPK3PXP", "issuer": "Broken", "label": "mallory",
                    "digits": 6, "type": "MOTP", "algorithm": "SHA1", "period": 30,
                    "tags": []})
    return entries


def andotp():
    write("andotp_plain.json", dump(andotp_entries()))
    password = b"andotp-test-password"
    iterations = 10000  # andOTP draws 140000..160000; the file records the count
    salt = seeded("andotp-salt", 12)
    nonce = seeded("andotp-nonce", 12)
    key = hashlib.pbkdf2_hmac("sha1", password, salt, iterations, 32)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(andotp_entries()).encode(), None)
    write("andotp_encrypted.json.aes", struct.pack(">I", iterations) + salt + nonce + sealed)


# ---- Bitwarden ----

def bitwarden():
    def item(i, name, username, totp, kind=1):
        out = {"id": str(uuid.UUID(bytes=seeded(f"bw-{i}", 16))), "organizationId": None,
               "folderId": None, "type": kind, "reprompt": 0, "name": name, "notes": None,
               "favorite": False, "collectionIds": None}
        if kind == 1:
            out["login"] = {"uris": [{"match": None, "uri": "https://example.com"}],
                            "username": username, "password": "not-a-secret-we-read",
                            "totp": totp}
        else:
            out["secureNote"] = {"type": 0}
        return out

    items = [
        item(0, "GitHub", "alice@example.com", "JBSW Y3DP EHPK 3PXP"),
        item(1, "ACME Co", "bob",
             "otpauth://totp/ACME%20Co:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
             "&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60"),
        item(2, "carol", "carol",
             "otpauth://hotp/carol?secret=MZXW6YTB&algorithm=SHA512&counter=42"),
        item(3, "Steam", "gaben", "steam://KRSXG5BNKN2GKYLN"),
        item(4, "Bank", "no-totp", None),
        item(5, "A note", None, None, kind=2),
        item(6, "Broken", "mallory", "otpauth://totp/Broken:mallory?secret=NOT0BASE32"),
    ]
    write("bitwarden.json", dump({"encrypted": False, "folders": [], "items": items}))


# ---- FreeOTP+ ----

def freeotp():
    def signed(data):
        return [b - 256 if b > 127 else b for b in data]

    tokens = []
    for a in (ALICE, BOB, CAROL):
        tokens.append({"algo": a["algo"], "counter": a["counter"], "digits": a["digits"],
                       "issuerExt": a["issuer"], "issuerInt": a["issuer"], "label": a["name"],
                       "period": a["period"], "secret": signed(raw_secret(a)),
                       "type": a["type"].upper()})
    tokens.append({"algo": "SHA1", "counter": 0, "digits": 6, "issuerExt": "Broken",
                   "label": "mallory", "period": 30, "secret": [12, 300, -5], "type": "TOTP"})
    order = [f"{t['issuerExt']}:{t['label']}" for t in tokens]
    write("freeotp_plus.json", dump({"tokenOrder": order, "tokens": tokens}))


# ---- Ente Auth encrypted export ----

def ente():
    lines = [
        "otpauth://totp/GitHub:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"
        "&algorithm=sha1&digits=6&period=30",
        "otpauth://totp/ACME%20Co:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co"
        "&algorithm=sha256&digits=8&period=60&codeDisplay=%7B%22pinned%22%3Afalse%7D",
        "otpauth://hotp/carol?secret=MZXW6YTB&algorithm=sha512&digits=6&counter=42",
        "otpauth://steam/Steam:gaben?secret=KRSXG5BNKN2GKYLN&issuer=Steam&algorithm=sha1"
        "&digits=5&period=30",
        "otpauth://totp/Broken:mallory?secret=NOT0BASE32&issuer=Broken",
    ]
    plaintext = "\n".join(lines).encode()
    password = b"ente-test-password"
    salt = seeded("ente-salt", 16)
    mem_limit, ops_limit = 8 * 1024 * 1024, 2  # bytes, as libsodium counts them
    key = nacl.pwhash.argon2id.kdf(32, password, salt, opslimit=ops_limit, memlimit=mem_limit)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(
        state, plaintext, None, sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL)
    export = {
        "version": 1,
        "kdfParams": {"memLimit": mem_limit, "opsLimit": ops_limit,
                      "salt": base64.b64encode(salt).decode()},
        "encryptedData": base64.b64encode(ciphertext).decode(),
        "encryptionNonce": base64.b64encode(header).decode(),
    }
    write("ente_encrypted.json", dump(export))


# ---- Countersign backup (docs/BACKUP_FORMAT.md) ----

PURPOSE = b"countersign-backup/v1\x00"


def countersign():
    accounts = []
    for a in ACCOUNTS:
        accounts.append({"issuer": a["issuer"] or None, "name": a["name"], "type": a["type"],
                         "algorithm": a["algo"], "digits": a["digits"],
                         "period": a["period"], "counter": a["counter"],
                         "secret": a["secret"]})
    accounts.append({"issuer": "Broken", "name": "mallory", "type": "totp",
                     "algorithm": "SHA1", "digits": 12, "period": 30, "counter": 0,
                     "secret": "JBSWY3DPEHPK3PXP"})
    plaintext = json.dumps({"version": 1, "exported_at": 1700000000,
                            "accounts": accounts}).encode()
    password = b"countersign-test-password"
    memory_kib, iterations, parallelism = 8192, 1, 2  # the app writes 65536, 3, 4
    salt = seeded("countersign-salt", 16)
    nonce = seeded("countersign-nonce", 24)
    key = argon2.hash_secret_raw(password, salt, iterations, memory_kib, parallelism, 32,
                                 argon2.Type.ID, 19)
    aad = (PURPOSE + struct.pack(">III", memory_kib, iterations, parallelism)
           + bytes([len(salt)]) + salt + nonce)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
    backup = {
        "format": "countersign-backup",
        "version": 1,
        "kdf": {"algorithm": "argon2id", "version": 19, "memory_kib": memory_kib,
                "iterations": iterations, "parallelism": parallelism,
                "salt": base64.b64encode(salt).decode()},
        "cipher": {"algorithm": "xchacha20poly1305",
                   "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    write("countersign_backup.json", dump(backup))


if __name__ == "__main__":
    google()
    aegis()
    twofas()
    andotp()
    bitwarden()
    freeotp()
    ente()
    countersign()
