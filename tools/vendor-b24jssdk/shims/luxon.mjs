// Stands in for luxon (about 70 KB minified) in the slim frame build.
//
// In the code this build keeps, luxon is imported in two places:
//   tools/text.mjs                    Text.getDateForLog()  DateTime.now().toFormat('yyyy-MM-dd HH:mm:ss')
//                                     Text.toB24Format(d)   DateTime.fromJSDate(d).toFormat("yyyy-MM-dd'T'HH:mm:ssZZ")
//                                     Text.toDateTime(s, f) DateTime.fromISO / DateTime.fromFormat (parsing)
//   logger/formatter/abstract-formatter.mjs (LineFormatter/JsonFormatter, used by
//   LoggerFactory.createForBrowser*):  DateTime.fromJSDate(record.timestamp).toSeconds()
//                                      DateTime.fromJSDate(record.timestamp).toFormat(dateFormat)
// The frame protocol itself (init, message send/receive, auth, resize, placement)
// never calls luxon. This shim implements exactly the calls above, in the system
// time zone like luxon's default: fromJSDate, now, toSeconds, toJSDate, toMillis,
// isValid, and toFormat with the numeric tokens y yy yyyy M MM d dd H HH h hh m mm
// s ss S SSS Z ZZ ZZZ and 'quoted literals'. Anything else (parsing, other
// tokens, names of months/weekdays, zones, locales) throws
// JSSDK_SLIM_BUILD_UNAVAILABLE instead of producing a wrong date.
import { unavailable } from './unavailable.mjs';

const WHY = 'luxon is replaced by a small shim that only formats dates (see tools/vendor-b24jssdk/shims/luxon.mjs)';

const pad = (n, len = 2) => String(Math.abs(Math.trunc(n))).padStart(len, '0');

function offset(minutes, style) {
  const sign = minutes < 0 ? '-' : '+';
  const h = Math.trunc(Math.abs(minutes) / 60);
  const m = Math.abs(minutes) % 60;
  if (style === 'narrow') return `${sign}${h}${m ? `:${pad(m)}` : ''}`;
  if (style === 'techie') return `${sign}${pad(h)}${pad(m)}`;
  return `${sign}${pad(h)}:${pad(m)}`;
}

const TOKENS = {
  y: d => String(d.getFullYear()),
  yy: d => pad(d.getFullYear() % 100),
  yyyy: d => pad(d.getFullYear(), 4),
  M: d => String(d.getMonth() + 1),
  MM: d => pad(d.getMonth() + 1),
  d: d => String(d.getDate()),
  dd: d => pad(d.getDate()),
  H: d => String(d.getHours()),
  HH: d => pad(d.getHours()),
  h: d => String(d.getHours() % 12 || 12),
  hh: d => pad(d.getHours() % 12 || 12),
  m: d => String(d.getMinutes()),
  mm: d => pad(d.getMinutes()),
  s: d => String(d.getSeconds()),
  ss: d => pad(d.getSeconds()),
  S: d => String(d.getMilliseconds()),
  SSS: d => pad(d.getMilliseconds(), 3),
  Z: d => offset(-d.getTimezoneOffset(), 'narrow'),
  ZZ: d => offset(-d.getTimezoneOffset(), 'short'),
  ZZZ: d => offset(-d.getTimezoneOffset(), 'techie')
};

export class DateTime {
  #date;
  constructor(date) {
    this.#date = new Date(date.getTime());
  }
  static fromJSDate(date) {
    if (!(date instanceof Date)) throw unavailable('DateTime.fromJSDate() of a non-Date', WHY);
    return new DateTime(date);
  }
  static now() { return new DateTime(new Date()); }
  static fromISO() { throw unavailable('Text.toDateTime() (luxon DateTime.fromISO)', WHY); }
  static fromFormat() { throw unavailable('Text.toDateTime() with a template (luxon DateTime.fromFormat)', WHY); }

  get isValid() { return !Number.isNaN(this.#date.getTime()); }
  toJSDate() { return new Date(this.#date.getTime()); }
  toMillis() { return this.#date.getTime(); }
  toSeconds() { return this.#date.getTime() / 1000; }

  toFormat(fmt) {
    if (!this.isValid) return 'Invalid DateTime';
    let out = '';
    for (let i = 0; i < fmt.length;) {
      const c = fmt[i];
      if (c === "'") {
        const end = fmt.indexOf("'", i + 1);
        if (end === i + 1) { out += "'"; i += 2; continue; } // '' is a literal quote
        if (end < 0) { out += fmt.slice(i + 1); break; }
        out += fmt.slice(i + 1, end);
        i = end + 1;
        continue;
      }
      let j = i;
      while (j < fmt.length && fmt[j] === c) j++;
      const token = fmt.slice(i, j);
      if (/[a-z]/i.test(c)) {
        const f = TOKENS[token];
        if (!f) throw unavailable(`luxon format token "${token}" (in "${fmt}")`, WHY);
        out += f(this.#date);
      } else {
        out += token;
      }
      i = j;
    }
    return out;
  }
  toString() { return this.toFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZZ"); }
}
