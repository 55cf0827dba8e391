import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const HREF = /\shref="([^"]*)"/g;
const ID = /\sid="([^"]*)"/g;

/** The built file a site path is served from, if any (clean URLs: `/a/b` is `a/b.html`, `/a/` is `a/index.html`). */
function servedFile(outDir: string, sitePath: string): string | undefined {
  const path = decodeURIComponent(sitePath).replace(/^\//, '');
  const candidates = path === '' || path.endsWith('/') ? [`${path}index.html`] : [path, `${path}.html`];
  return candidates.map((c) => join(outDir, c)).find((file) => existsSync(file) && statSync(file).isFile());
}

/**
 * Checks every link of the built site, fragments included: VitePress's own dead-link check covers links to pages
 * written in Markdown, but not `#fragments` nor links to other files. Returns one line per broken link.
 */
export function brokenLinks(outDir: string): string[] {
  const pages = walk(outDir).filter((file) => file.endsWith('.html'));
  const ids = new Map<string, Set<string>>();
  const idsOf = (file: string): Set<string> => {
    let found = ids.get(file);
    if (found === undefined) {
      found = new Set([...readFileSync(file, 'utf8').matchAll(ID)].map((m) => m[1] ?? ''));
      ids.set(file, found);
    }
    return found;
  };
  const broken: string[] = [];
  for (const page of pages) {
    const pagePath = `/${relative(outDir, page).split(sep).join('/')}`;
    for (const [, raw = ''] of readFileSync(page, 'utf8').matchAll(HREF)) {
      const href = raw.replaceAll('&amp;', '&');
      if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) continue;
      const [pathPart = '', hash] = href.split('#', 2);
      const withoutQuery = pathPart.split('?', 1)[0] ?? '';
      // posix.resolve drops a trailing slash, which is what makes `/a/` mean `a/index.html`.
      const resolved =
        posix.resolve(posix.dirname(pagePath), withoutQuery) + (withoutQuery.endsWith('/') ? '/' : '');
      const target = withoutQuery === '' ? page : servedFile(outDir, resolved.replace(/\/\/$/, '/'));
      if (target === undefined) broken.push(`${pagePath}: ${href} (no such page or file)`);
      else if (hash !== undefined && hash !== '' && target.endsWith('.html')) {
        if (!idsOf(target).has(decodeURIComponent(hash)))
          broken.push(`${pagePath}: ${href} (no #${hash} there)`);
      }
    }
  }
  return [...new Set(broken)];
}
