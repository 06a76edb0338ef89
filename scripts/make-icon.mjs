// Draws the extension icon (a blue rounded square with two stacked white shipping containers) and
// writes it as a 128x128 RGBA PNG to images/icon.png and to each task folder. The PNGs are
// committed; run this only to change the design: `node scripts/make-icon.mjs`.
import { writeFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";

const SIZE = 128;
const SAMPLES = 4; // per axis, for anti-aliased edges
const BLUE = [0x00, 0x78, 0xd4];
const WHITE = [0xff, 0xff, 0xff];

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

function render(size) {
  const unit = 128 / size;
  const rows = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0 (None), then RGBA pixels
    for (let px = 0; px < size; px++) {
      let bg = 0;
      let fg = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = (px + (sx + 0.5) / SAMPLES) * unit;
          const y = (py + (sy + 0.5) / SAMPLES) * unit;
          if (background(x, y)) bg++;
          if (glyph(x, y)) fg++;
        }
      }
      const n = SAMPLES * SAMPLES;
      const mix = bg === 0 ? 0 : fg / bg;
      for (let c = 0; c < 3; c++) row[1 + px * 4 + c] = Math.round(BLUE[c] + (WHITE[c] - BLUE[c]) * mix);
      row[1 + px * 4 + 3] = Math.round((255 * bg) / n);
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

const icon = render(SIZE);
for (const target of ["images/icon.png", "tasks/AciAgentStartV1/icon.png", "tasks/AciAgentStopV1/icon.png"]) {
  writeFileSync(new URL(`../${target}`, import.meta.url), icon);
  console.log(`${target}: ${icon.length} bytes`);
}
