// Builds the service worker of the installable intake (reports/sw/sw.js) with workbox-build.
// The output is committed: the portal never needs npm at run time. Run by scripts/build_static.
//
// Static URLs are written as "__STATIC__/<name>": the /sw.js view replaces each with the URL
// the pages use (content-hashed by ManifestStaticFilesStorage in production), so the precache
// and the pages ask for the same URLs.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { generateSW } from "workbox-build";

const STATIC_DIRS = ["geo_portal/static", "reports/static"];
// The app shell: what the intake page needs to open and work with no network.
const SHELL = [
  "css/site.css",
  "vendor/leaflet/leaflet.js",
  "vendor/leaflet/leaflet.css",
  "vendor/leaflet/images/marker-icon.png",
  "vendor/leaflet/images/marker-icon-2x.png",
  "vendor/leaflet/images/marker-shadow.png",
  "vendor/workbox-window.prod.umd.js",
  "reports/photo-prep.js",
  "vendor/exifr-lite.umd.js",
  "reports/intake.js",
  "reports/intake-outbox.js",
  "reports/offline-intake.js",
  "reports/icons/icon-192.png",
  "reports/icons/icon-512.png",
];
// Rendered pages precached for the offline fallback (revision: their template's bytes).
const PAGES = { "/ngoai-tuyen/": "reports/templates/reports/offline.html" };

const md5 = (path) => createHash("md5").update(readFileSync(path)).digest("hex");
const find = (name) => {
  const dir = STATIC_DIRS.find((d) => existsSync(`${d}/${name}`));
  if (!dir) throw new Error(`static file not found: ${name}`);
  return `${dir}/${name}`;
};

const entries = SHELL.map((name) => ({ url: `__STATIC__/${name}`, revision: md5(find(name)) }));
for (const [url, template] of Object.entries(PAGES)) {
  entries.push({ url, revision: md5(template) + md5("geo_portal/templates/base.html").slice(0, 8) });
}

const { warnings } = await generateSW({
  swDest: "reports/sw/sw.js",
  mode: "production",
  sourcemap: false,
  inlineWorkboxRuntime: true,
  disableDevLogs: true,
  skipWaiting: true,
  clientsClaim: true,
  cacheId: "gp",
  // No globbing (the static files live in several apps): the precache list is ours.
  globDirectory: "reports/sw",
  globPatterns: [],
  additionalManifestEntries: entries,
  // The outbox: IndexedDB and sending, shared with the page, and the Background Sync handler.
  importScripts: ["__STATIC__/reports/intake-outbox.js", "__STATIC__/reports/outbox-sync-sw.js"],
  runtimeCaching: [
    {
      // The intake page: the network when there is one (fresh CSRF token, current
      // categories), else the last copy; the offline page when none was kept.
      urlPattern: ({ request, url }) => request.mode === "navigate" && url.pathname === "/phan-anh/moi/",
      handler: "NetworkFirst",
      options: {
        cacheName: "gp-pages",
        networkTimeoutSeconds: 8,
        matchOptions: { ignoreSearch: true, ignoreVary: true },  // Vary: Cookie, Accept-Language
        expiration: { maxEntries: 4 },
        precacheFallback: { fallbackURL: "/ngoai-tuyen/" },
      },
    },
    {
      // Other pages are never kept (they may show personal data): offline page instead.
      urlPattern: ({ request }) => request.mode === "navigate",
      handler: "NetworkOnly",
      options: { precacheFallback: { fallbackURL: "/ngoai-tuyen/" } },
    },
    {
      // A boundary version never changes once published: its URL names the version.
      urlPattern: ({ url }) => /^\/api\/v1\/boundaries\/[\w-]+\/[\w-]+\.geojson$/.test(url.pathname),
      handler: "CacheFirst",
      options: {
        cacheName: "gp-boundaries",
        matchOptions: { ignoreVary: true },  // the same GeoJSON whatever Accept or language asked for it
        expiration: { maxEntries: 12 },
        cacheableResponse: { statuses: [200] },
      },
    },
    {
      urlPattern: ({ url }) => url.pathname.startsWith("/static/"),
      handler: "StaleWhileRevalidate",
      options: { cacheName: "gp-static", expiration: { maxEntries: 200 }, cacheableResponse: { statuses: [200] } },
    },
  ],
});
for (const w of warnings) console.warn(w);
console.log(`reports/sw/sw.js: ${entries.length} precached URLs`);
