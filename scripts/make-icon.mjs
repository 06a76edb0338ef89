// Draws the icons as 128x128 RGBA PNGs: the extension's (a blue rounded square with two stacked
// white shipping containers) to images/icon.png, and each task's, the same with a badge in the
// corner that tells them apart in the task picker: a green "play" triangle for AciAgentStart, a
// red "stop" square for AciAgentStop, an amber "pause" (agents waiting) for AciAgentStandbyPool. The PNGs are committed; run this only to change the design:
// `node scripts/make-icon.mjs`.
import { writeFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";

const SIZE = 128;
const SAMPLES = 4; // per axis, for anti-aliased edges
const BLUE = [0x00, 0x78, 0xd4];
const WHITE = [0xff, 0xff, 0xff];
const GREEN = [0x10, 0x7c, 0x10];
const RED = [0xc5, 0x0f, 0x1f];
const AMBER = [0xc1, 0x7a, 0x00];

function inRoundRect(x, y, [x0, y0, x1, y1], r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

// The design in a 128-unit square: background, then two stacked containers, each a white
// body with blue ribs cut into it.
const background = (x, y) => inRoundRect(x, y, [0, 0, 128, 128], 24);
function container([x0, y0, x1, y1], ribCount) {
  const pitch = (x1 - x0 - 8) / ribCount;
  const ribs = Array.from({ length: ribCount }, (_, i) => [x0 + 4 + i * pitch + pitch / 2 - 1.5, y0 + 6, x0 + 4 + i * pitch + pitch / 2 + 1.5, y1 - 6]);
  return (x, y) => inRoundRect(x, y, [x0, y0, x1, y1], 3) && !ribs.some((rib) => inRoundRect(x, y, rib, 1.5));
}
const parts = [container([20, 66, 108, 102], 8), container([36, 26, 92, 60], 5)];
const glyph = (x, y) => parts.some((part) => part(x, y));

// A badge: a white-ringed disc in the top-right corner with a white symbol on it.
const BADGE = { cx: 100, cy: 28, r: 26 };
const inDisc = (x, y, r) => (x - BADGE.cx) ** 2 + (y - BADGE.cy) ** 2 <= r * r;
function inTriangle(x, y) {
  // pointing right, centred on the badge (its centroid a little right of the centre)
  const [ax, ay, bx, by, cx, cy] = [BADGE.cx - 8, BADGE.cy - 12, BADGE.cx - 8, BADGE.cy + 12, BADGE.cx + 13, BADGE.cy];
  const side = (px, py, qx, qy) => (qx - px) * (y - py) - (qy - py) * (x - px);
  const d1 = side(ax, ay, bx, by);
  const d2 = side(bx, by, cx, cy);
  const d3 = side(cx, cy, ax, ay);
  return (d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0);
}
const inSquare = (x, y) => inRoundRect(x, y, [BADGE.cx - 10, BADGE.cy - 10, BADGE.cx + 10, BADGE.cy + 10], 2);

const inPause = (x, y) =>
  inRoundRect(x, y, [BADGE.cx - 10, BADGE.cy - 11, BADGE.cx - 3, BADGE.cy + 11], 1.5) || inRoundRect(x, y, [BADGE.cx + 3, BADGE.cy - 11, BADGE.cx + 10, BADGE.cy + 11], 1.5);

/** Layers, bottom first: [shape, colour]. A sample takes the colour of the topmost layer it is in. */
const designs = {
  extension: [[background, BLUE], [glyph, WHITE]],
  start: [[background, BLUE], [glyph, WHITE], [(x, y) => inDisc(x, y, BADGE.r), WHITE], [(x, y) => inDisc(x, y, BADGE.r - 4), GREEN], [inTriangle, WHITE]],
  stop: [[background, BLUE], [glyph, WHITE], [(x, y) => inDisc(x, y, BADGE.r), WHITE], [(x, y) => inDisc(x, y, BADGE.r - 4), RED], [inSquare, WHITE]],
  standby: [[background, BLUE], [glyph, WHITE], [(x, y) => inDisc(x, y, BADGE.r), WHITE], [(x, y) => inDisc(x, y, BADGE.r - 4), AMBER], [inPause, WHITE]],
};

function render(layers, size) {
  const unit = 128 / size;
  const n = SAMPLES * SAMPLES;
  const rows = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0 (None), then RGBA pixels
    for (let px = 0; px < size; px++) {
      const sum = [0, 0, 0];
      let covered = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = (px + (sx + 0.5) / SAMPLES) * unit;
          const y = (py + (sy + 0.5) / SAMPLES) * unit;
          let colour;
          for (const [shape, fill] of layers) if (shape(x, y)) colour = fill;
          if (colour === undefined) continue;
          covered++;
          for (let c = 0; c < 3; c++) sum[c] += colour[c];
        }
      }
      for (let c = 0; c < 3; c++) row[1 + px * 4 + c] = covered === 0 ? 0 : Math.round(sum[c] / covered);
      row[1 + px * 4 + 3] = Math.round((255 * covered) / n);
    }
    rows.push(row);
  }
  return png(size, size, Buffer.concat(rows));
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function png(width, height, scanlines) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit depth, RGBA, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(scanlines, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const targets = { "images/icon.png": "extension", "tasks/AciAgentStartV1/icon.png": "start", "tasks/AciAgentStopV1/icon.png": "stop", "tasks/AciAgentStandbyPoolV1/icon.png": "standby" };
for (const [target, design] of Object.entries(targets)) {
  const icon = render(designs[design], SIZE);
  writeFileSync(new URL(`../${target}`, import.meta.url), icon);
  console.log(`${target}: ${icon.length} bytes`);
}
