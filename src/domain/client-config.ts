import semver from 'semver';

export type Platform = 'ios' | 'android';

/** What an app version is told: feature flags, which paywall to show, what content to offer, whether to update. */
export interface ClientSettings {
  readonly flags: Readonly<Record<string, boolean>>;
  readonly offering?: string;
  readonly contentKinds: readonly string[];
}

/** A client's configuration document, edited by admins. */
export interface ClientConfigDocument {
  readonly defaults: ClientSettings;
  /** The oldest version still supported, per platform: older ones must update. */
  readonly minimumVersion?: Partial<Record<Platform, string>>;
  /** Applied in order over the defaults when they match; flags merge, the rest replaces. */
  readonly rules: readonly ClientConfigRule[];
}

export interface ClientConfigRule {
  readonly platform?: Platform;
  /** A semver range, e.g. ">=1.9.0 <2.0.0". */
  readonly versions?: string;
  readonly set: Partial<ClientSettings>;
}

export interface ResolvedClientConfig extends ClientSettings {
  readonly platform: Platform;
  readonly version: string;
  readonly minimumVersion: string | null;
  readonly forceUpdate: boolean;
}

/** The configuration one app version on one platform should use. Pure. */
export function resolveClientConfig(
  document: ClientConfigDocument,
  platform: Platform,
  version: string,
): ResolvedClientConfig {
  let settings: ClientSettings = document.defaults;
  for (const rule of document.rules) {
    if (rule.platform && rule.platform !== platform) continue;
    if (rule.versions && !semver.satisfies(version, rule.versions)) continue;
    settings = { ...settings, ...rule.set, flags: { ...settings.flags, ...rule.set.flags } };
  }
  const minimumVersion = document.minimumVersion?.[platform] ?? null;
  return {
    ...settings,
    platform,
    version,
    minimumVersion,
    forceUpdate: minimumVersion !== null && semver.lt(version, minimumVersion),
  };
}

/** Problems that make a document unusable (ranges and versions that are not semver). */
export function clientConfigProblems(document: ClientConfigDocument): string[] {
  const problems: string[] = [];
  for (const [platform, version] of Object.entries(document.minimumVersion ?? {})) {
    if (!semver.valid(version)) problems.push(`minimumVersion.${platform} "${version}" is not a version like 1.9.3`);
  }
  document.rules.forEach((rule, i) => {
    if (rule.versions && semver.validRange(rule.versions) === null) {
      problems.push(`rules[${i}].versions "${rule.versions}" is not a semver range`);
    }
  });
  return problems;
}
