// Which brand icon an account shows: the user's choice, else one matching the issuer.
import { BRAND_ICONS, type BrandIcon } from "./icons.generated";

function normalise(text: string): string {
  return text.toLocaleLowerCase().replace(/[^a-z0-9]/g, "");
}

const BY_TITLE = new Map(
  Object.entries(BRAND_ICONS).map(([slug, icon]) => [normalise(icon.title), slug]),
);

/** The slug of the icon for an issuer ("GitHub" → "github"), if one is bundled. */
export function slugForIssuer(issuer: string): string | null {
  const key = normalise(issuer);
  if (!key) return null;
  if (key in BRAND_ICONS) return key;
  return BY_TITLE.get(key) ?? null;
}

export function iconFor(account: { issuer: string; icon?: string | null }): BrandIcon | null {
  const slug = account.icon || slugForIssuer(account.issuer);
  return slug ? (BRAND_ICONS[slug] ?? null) : null;
}

/** Every bundled icon, for the edit dialog's picker. */
export function allIcons(): { slug: string; icon: BrandIcon }[] {
  return Object.entries(BRAND_ICONS)
    .map(([slug, icon]) => ({ slug, icon }))
    .sort((a, b) => a.icon.title.localeCompare(b.icon.title));
}
