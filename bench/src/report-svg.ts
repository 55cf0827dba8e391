import { formatRatio, inColumnOrder, subjectColor, subjectLabel } from './labels.js';
import { type Results, WORKLOADS } from './results.js';

const WIDTH = 900;
const LEFT = 250;
const PLOT = 540;
const MAX = 2;
const BAR = 11;
const GAP = 3;
const TITLE = 18;
const GROUP_GAP = 10;

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const x = (speed: number): number => LEFT + (Math.min(speed, MAX) / MAX) * PLOT;

/**
 * A hand-written SVG bar chart: per workload and topology, one bar per library showing its speed relative to the
 * raw baseline of the same repetition (throughput ratio; for times and latencies the inverse of the time ratio), so
 * that longer is always better, with the line at 1× (raw) and Strata's target marked.
 */
export function renderSvg(results: Results): string {
  const body: string[] = [];
  const used = new Set<string>();
  let y = 64;
  for (const topology of ['standalone', 'cluster'] as const) {
    for (const info of WORKLOADS) {
      if (info.unit === 'bytes/entry') continue;
      const ids = inColumnOrder(results.subjects(topology, info.id)).filter((id) => id !== info.baseline);
      if (ids.length === 0) continue;
      body.push(`<text x="8" y="${y + 12}" class="group">${escapeXml(`${info.title} (${topology})`)}</text>`);
      if (info.target !== undefined) {
        const tx = x(info.better === 'higher' ? info.target : 1 / info.target);
        const height = TITLE + ids.length * (BAR + GAP);
        body.push(`<line x1="${tx}" x2="${tx}" y1="${y + 2}" y2="${y + height}" class="target"/>`);
      }
      y += TITLE;
      for (const id of ids) {
        const summary = results.summary(topology, info.id, id);
        if (summary === undefined || !Number.isFinite(summary.ratio)) continue;
        used.add(id);
        const speed = info.better === 'higher' ? summary.ratio : 1 / summary.ratio;
        const end = x(speed);
        const label = `${formatRatio(speed)}${speed > MAX ? ' ▸' : ''}`;
        body.push(
          `<rect x="${LEFT}" y="${y}" width="${(end - LEFT).toFixed(1)}" height="${BAR}" fill="${subjectColor(id)}"><title>${escapeXml(subjectLabel(id))}: ${label}</title></rect>`,
          `<text x="${end + 4}" y="${y + BAR - 1}" class="value">${label}</text>`,
          `<text x="${LEFT - 6}" y="${y + BAR - 1}" class="name">${escapeXml(subjectLabel(id))}</text>`,
        );
        y += BAR + GAP;
      }
      y += GROUP_GAP;
    }
  }
  const legend = [...used].map(
    (id, i) =>
      `<rect x="${8 + (i % 4) * 222}" y="${24 + Math.floor(i / 4) * 14}" width="10" height="10" fill="${subjectColor(id)}"/>` +
      `<text x="${22 + (i % 4) * 222}" y="${33 + Math.floor(i / 4) * 14}" class="value">${escapeXml(subjectLabel(id))}</text>`,
  );
  const one = x(1);
  const height = y + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    '<style>.group{font-size:12px;font-weight:bold}.name{font-size:10px;text-anchor:end}.value{font-size:10px}.target{stroke:#c62828;stroke-width:1.5;stroke-dasharray:4 3}.raw{stroke:#000;stroke-width:1}</style>',
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="8" y="16" class="group">Speed relative to the raw baseline of the same repetition (longer is better; dashed red: Strata's target)</text>`,
    ...legend,
    `<line x1="${one}" x2="${one}" y1="56" y2="${y}" class="raw"/>`,
    `<text x="${one}" y="${y + 14}" class="value" text-anchor="middle">1× = raw</text>`,
    `<text x="${x(MAX)}" y="${y + 14}" class="value" text-anchor="end">${MAX}×</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
