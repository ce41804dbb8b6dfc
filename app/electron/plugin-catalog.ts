// The app's plugins, by name: the allowlist behind every name the page may ask for. Built
// once when the preload starts, from names the app ships and a locator that finds each in
// the app's own plugin directory (the library's pluginPath()). A name the locator cannot
// find is left out, with the reason kept for the error the page gets.
export interface PluginCatalog {
  /** Names of the plugins present, sorted. */
  readonly names: readonly string[];
  /** The file of plugin `name`; throws naming the plugins there are. */
  path(name: string): string;
}

/** The example plugins the dashboard uses (native/plugins). */
export const APP_PLUGINS = ['echo', 'image-filter', 'image-source'] as const;

export function pluginCatalog(names: readonly string[], locate: (name: string) => string): PluginCatalog {
  const paths = new Map<string, string>();
  const missing = new Map<string, string>();
  for (const name of names) {
    try {
      paths.set(name, locate(name));
    } catch (e) {
      missing.set(name, (e as Error).message);
    }
  }
  const present = [...paths.keys()].sort();
  return {
    names: present,
    path(name: string): string {
      const p = paths.get(name);
      if (p !== undefined) return p;
      const why = missing.get(name);
      throw new Error(
        why !== undefined
          ? `smcNative: plugin '${name}' is not available: ${why}`
          : `smcNative: unknown plugin ${JSON.stringify(name)}: this app's plugins are ${present.join(', ') || '(none built)'}`,
      );
    },
  };
}
