// Writes emulator/agent-package/bin/rsa-primes.txt: 256 random 1024-bit primes (hex, one a line)
// from which the emulated agent builds its 2048-bit RSA keys without searching for primes (see
// emulator/agent-package/README.md, "Key"). Run once; the list is committed.
import { generatePrimeSync } from "node:crypto";
import { writeFileSync } from "node:fs";

const count = 256;
const primes = new Set();
while (primes.size < count) {
  const prime = generatePrimeSync(1024, { bigint: true });
  // The two top bits set: the product of any two has exactly 2048 bits.
  if (prime >> 1022n !== 3n) continue;
  // e = 65537 must be invertible modulo p - 1.
  if ((prime - 1n) % 65537n === 0n) continue;
  primes.add(prime.toString(16));
}
writeFileSync(new URL("../emulator/agent-package/bin/rsa-primes.txt", import.meta.url), `${[...primes].join("\n")}\n`);
