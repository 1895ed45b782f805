/**
 * The scaling plot: an SVG drawn here (two panels, batch time and worker peak RSS against
 * grants, with the linear extrapolation from the smallest size dashed), rendered to PNG by
 * headless Chromium through playwright-core. Chromium: CHROMIUM_PATH, else /usr/bin/chromium.
 */
import { existsSync, writeFileSync } from "node:fs";

export interface PlotPoint {
  grants: number;
  seconds: number;
  rssMb: number;
}

const W = 940;
const H = 420;

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(
  x0: number,
  title: string,
  unit: string,
  points: PlotPoint[],
  value: (p: PlotPoint) => number,
  linear: boolean,
  colour: string,
): string {
  const pw = 380;
  const ph = 300;
  const y0 = 60;
  const maxX = niceMax(Math.max(...points.map((p) => p.grants)));
  const lin = linear ? points.map((p) => (value(points[0]!) / points[0]!.grants) * p.grants) : [];
  const maxY = niceMax(Math.max(...points.map(value), ...(linear ? [] : [0])) * 1.1);
  const sx = (g: number) => x0 + (g / maxX) * pw;
  const sy = (v: number) => y0 + ph - (Math.min(v, maxY) / maxY) * ph;
  const out: string[] = [];
  out.push(
    `<text x="${x0 + pw / 2}" y="${y0 - 22}" text-anchor="middle" font-size="17" font-weight="bold">${title}</text>`,
  );
  out.push(`<rect x="${x0}" y="${y0}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#999"/>`);
  for (let i = 0; i <= 5; i++) {
    const gy = y0 + ph - (i / 5) * ph;
    const gx = x0 + (i / 5) * pw;
    out.push(`<line x1="${x0}" y1="${gy}" x2="${x0 + pw}" y2="${gy}" stroke="#e3e3e3"/>`);
    out.push(
      `<text x="${x0 - 8}" y="${gy + 5}" text-anchor="end" font-size="13">${+((maxY * i) / 5).toFixed(1)}</text>`,
    );
    out.push(
      `<text x="${gx}" y="${y0 + ph + 20}" text-anchor="middle" font-size="13">${((maxX * i) / 5 / 1000).toLocaleString("en")}k</text>`,
    );
  }
  out.push(`<text x="${x0 + pw / 2}" y="${y0 + ph + 42}" text-anchor="middle" font-size="14">grants</text>`);
  out.push(
    `<text transform="translate(${x0 - 48},${y0 + ph / 2}) rotate(-90)" text-anchor="middle" font-size="14">${unit}</text>`,
  );
  if (linear) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${sx(p.grants).toFixed(1)},${sy(lin[i]!).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="#888" stroke-dasharray="6 5" stroke-width="2"/>`);
    out.push(
      `<text x="${x0 + 10}" y="${y0 + 20}" font-size="13" fill="#666">dashed: linear from ${points[0]!.grants.toLocaleString("en")} grants</text>`,
    );
  }
  const d = points.map((p, i) => `${i ? "L" : "M"}${sx(p.grants).toFixed(1)},${sy(value(p)).toFixed(1)}`).join(" ");
  out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="3"/>`);
  for (const p of points) {
    out.push(`<circle cx="${sx(p.grants)}" cy="${sy(value(p))}" r="5" fill="${colour}"/>`);
    out.push(
      `<text x="${sx(p.grants) - 6}" y="${sy(value(p)) - 10}" text-anchor="end" font-size="13" fill="${colour}">${value(p).toFixed(value(p) >= 100 ? 0 : 1)}</text>`,
    );
  }
  return out.join("\n");
}

export function plotSvg(points: PlotPoint[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(80, "Batch wall time", "seconds", points, (p) => p.seconds, true, "#1f6fb4")}
${panel(545, "Worker peak RSS", "MB", points, (p) => p.rssMb, false, "#c0392b")}
</svg>`;
}

/** Writes `<path>.svg` and renders `path` (PNG); false when no Chromium is available. */
export async function renderPlot(path: string, points: PlotPoint[]): Promise<boolean> {
  const svg = plotSvg(points);
  const svgPath = path.replace(/\.png$/, ".svg");
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    writeFileSync(svgPath, svg);
    return false;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: W, height: H } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path, clip: { x: 0, y: 0, width: W, height: H } });
  } finally {
    await browser.close();
  }
  return true;
}
