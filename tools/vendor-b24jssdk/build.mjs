// Builds static/vendor/b24jssdk/b24jssdk.frame.min.js: the frame part of the
// official @bitrix24/b24jssdk (its own dist/esm code), bundled and minified by
// esbuild as an IIFE that sets the global `B24Js`, with the heavy dependencies
// that the frame code paths do not use replaced by the small shims in ./shims/.
//
//     cd tools/vendor-b24jssdk && npm ci && node build.mjs [--analyze]
//
// Fails if a module it must leave out (axios, qs-esm, the real luxon, the REST
// client, the pull client) would end up in the bundle, or if the file exceeds
// the size budget.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { checkLuxonShim } from './check-luxon-shim.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const PKG = join(HERE, 'node_modules', '@bitrix24', 'b24jssdk');
const ESM = join(PKG, 'dist', 'esm');
const SHIMS = join(HERE, 'shims');
const OUT_DIR = join(ROOT, 'static', 'vendor', 'b24jssdk');
const OUT = join(OUT_DIR, 'b24jssdk.frame.min.js');
const BUDGET = 60_000; // bytes, raw

const EXPECTED = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8')).devDependencies['@bitrix24/b24jssdk'];
const pkg = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));
if (pkg.version !== EXPECTED) {
  throw new Error(`node_modules has @bitrix24/b24jssdk ${pkg.version}, package.json pins ${EXPECTED}: run npm ci`);
}
const esbuildVersion = JSON.parse(readFileSync(join(HERE, 'node_modules', 'esbuild', 'package.json'), 'utf8')).version;

// SDK module (relative to dist/esm) -> shim (relative to ./shims), and why.
const REPLACE = {
  'core/http/v2.mjs': 'http.mjs', //             REST client v2 (axios, qs-esm, limiters)
  'core/http/v3.mjs': 'http.mjs', //             REST client v3
  'core/actions/manager.mjs': 'actions-manager.mjs', // REST actions (call, batch, lists)
  'core/tools/manager.mjs': 'tools-manager.mjs' //   ping / healthCheck (REST)
};
// Must never be bundled: a kept module importing one of these is a build error.
const FORBIDDEN_PACKAGES = /^(axios|qs-esm)(\/|$)/;
const FORBIDDEN_SDK = [/^pullClient\//, /^oauth\//, /^hook\//, /^core\/http\//, /^core\/actions\//, /^core\/interaction\//];

const slim = {
  name: 'b24jssdk-slim',
  setup(b) {
    b.onResolve({ filter: /^@sdk\// }, (args) => ({ path: join(ESM, args.path.slice(5)) }));
    b.onResolve({ filter: /^luxon$/ }, () => ({ path: join(SHIMS, 'luxon.mjs') }));
    b.onResolve({ filter: FORBIDDEN_PACKAGES }, (args) => ({
      errors: [{ text: `${args.path} must not be in the slim build (imported by ${relative(HERE, args.importer)})` }]
    }));
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const abs = resolve(args.resolveDir, args.path);
      if (!abs.startsWith(ESM + sep)) return undefined;
      const rel = relative(ESM, abs).split(sep).join('/');
      if (REPLACE[rel]) return { path: join(SHIMS, REPLACE[rel]) };
      if (FORBIDDEN_SDK.some((re) => re.test(rel))) {
        return { errors: [{ text: `${rel} must not be in the slim build (imported by ${relative(HERE, args.importer)})` }] };
      }
      return undefined;
    });
  }
};

// The luxon shim must format exactly as luxon does (luxon itself is installed as a
// dependency of the SDK, so compare against it).
await checkLuxonShim();

const banner = `/*! @bitrix24/b24jssdk ${pkg.version}: the frame part (initializeB24Frame), global B24Js.
 * Copyright (c) 2026 Bitrix24. MIT License: LICENSE next to this file. https://github.com/bitrix24/b24jssdk
 * Built by tools/vendor-b24jssdk (npm ci && node build.mjs) with esbuild ${esbuildVersion} from the package's
 * dist/esm. Left out, replaced by shims that throw JSSDK_SLIM_BUILD_UNAVAILABLE: the REST client (axios,
 * qs-esm, limiters, actions, ping); luxon (a formatter-only shim). See tools/vendor-b24jssdk/README.md. */`;

const result = await build({
  entryPoints: [join(HERE, 'entry.mjs')],
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'B24Js',
  platform: 'browser',
  target: 'es2022', // the SDK's own syntax (private fields, static blocks), as in its UMD build
  legalComments: 'none', // the per-file @license headers; the banner carries the notice once
  banner: { js: banner },
  plugins: [slim],
  metafile: true,
  write: false,
  logLevel: 'warning'
});

const [output] = result.outputFiles;
const inputs = Object.entries(Object.values(result.metafile.outputs)[0].inputs);
const leaked = inputs.filter(([p, v]) => v.bytesInOutput > 0 && /node_modules[\\/](luxon|axios|qs-esm)[\\/]/.test(p));
if (leaked.length) throw new Error(`left-out dependency in the bundle: ${leaked.map(([p]) => p).join(', ')}`);

mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(OUT, output.contents);
copyFileSync(join(PKG, 'LICENSE'), join(OUT_DIR, 'LICENSE'));

const raw = statSync(OUT).size;
const gz = gzipSync(output.contents, { level: 9 }).length;
console.log(`${relative(ROOT, OUT)}\t${raw} bytes raw\t${gz} bytes gzipped (node zlib, level 9)`);
if (process.argv.includes('--analyze')) {
  for (const [p, v] of inputs.sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) {
    console.log(String(v.bytesInOutput).padStart(7), p.replace(/^.*dist\/esm\//, 'sdk:'));
  }
}
if (raw > BUDGET) throw new Error(`${raw} bytes is over the ${BUDGET} byte budget`);
