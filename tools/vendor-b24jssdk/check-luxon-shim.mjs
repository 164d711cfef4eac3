// Compares shims/luxon.mjs with the real luxon (installed as a dependency of
// @bitrix24/b24jssdk) on the calls the kept SDK code makes; build.mjs runs it.
import { DateTime as Real } from 'luxon';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// shims/luxon.mjs imports `@sdk/...`, which only the build resolves: load it
// through a tiny esbuild bundle of its own.
async function loadShim() {
  const { build } = await import('esbuild');
  const here = dirname(fileURLToPath(import.meta.url));
  const esm = join(here, 'node_modules', '@bitrix24', 'b24jssdk', 'dist', 'esm');
  const out = await build({
    entryPoints: [join(here, 'shims', 'luxon.mjs')], bundle: true, format: 'esm', platform: 'node', write: false,
    plugins: [{ name: 'sdk', setup(b) { b.onResolve({ filter: /^@sdk\// }, (a) => ({ path: join(esm, a.path.slice(5)) })); } }]
  });
  const url = 'data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64');
  return import(url);
}

export async function checkLuxonShim() {
  const { DateTime: Shim } = await loadShim();
  const formats = [
    'yyyy-MM-dd HH:mm:ss', // Text.getDateForLog, LineFormatter's default
    "yyyy-MM-dd'T'HH:mm:ssZZ", // Text.toB24Format
    'yy-M-d H:m:s.S SSS h hh Z ZZZ', "'quoted' yyyy''MM"
  ];
  const dates = [new Date(2026, 0, 2, 3, 4, 5, 6), new Date(1999, 11, 31, 23, 59, 59, 999), new Date(2026, 6, 15, 12, 0, 0, 0), new Date()];
  for (const d of dates) {
    for (const f of formats) {
      const want = Real.fromJSDate(d).toFormat(f);
      const got = Shim.fromJSDate(d).toFormat(f);
      if (want !== got) throw new Error(`luxon shim: ${JSON.stringify(f)} of ${d.toISOString()}: luxon "${want}", shim "${got}"`);
    }
    if (Math.floor(Real.fromJSDate(d).toSeconds()) !== Math.floor(Shim.fromJSDate(d).toSeconds())) {
      throw new Error(`luxon shim: toSeconds of ${d.toISOString()} differs`);
    }
  }
  for (const bad of [() => Shim.fromISO('2026-01-01'), () => Shim.fromFormat('01.01.2026', 'dd.MM.yyyy'),
    () => Shim.now().toFormat('MMMM')]) {
    let err = null;
    try { bad(); } catch (e) { err = e; }
    if (err?.code !== 'JSSDK_SLIM_BUILD_UNAVAILABLE') throw new Error(`luxon shim: ${bad} did not throw JSSDK_SLIM_BUILD_UNAVAILABLE`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await checkLuxonShim();
  console.log('luxon shim matches luxon');
}
