/** What task-lib and the agent put in place of a secret. */
const MASK = "***";

/**
 * The text with every occurrence of every secret replaced by ***, the way the agent masks a step's
 * log; a multi-line secret (a PEM) is masked line by line, longest first so that no part of a
 * longer secret is left behind by a shorter one.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  const pieces = secrets
    .flatMap((secret) => secret.split(/\r?\n/))
    .map((piece) => piece.trim())
    .filter((piece) => piece !== "")
    .sort((a, b) => b.length - a.length);
  return pieces.reduce((masked, piece) => masked.split(piece).join(MASK), text);
}
