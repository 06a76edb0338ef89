import { strict as assert } from "node:assert";
import { maskSecrets } from "../../../src/core/masking";

describe("maskSecrets", function () {
  const cases: { title: string; text: string; secrets: string[]; expected: string }[] = [
    { title: "nothing to mask", text: "agent online", secrets: [], expected: "agent online" },
    { title: "every occurrence", text: "token=abc123 again abc123", secrets: ["abc123"], expected: "token=*** again ***" },
    { title: "several secrets", text: "pat=p4t secret=s3cr3t", secrets: ["p4t", "s3cr3t"], expected: "pat=*** secret=***" },
    { title: "the longer secret first", text: "abcdef", secrets: ["abc", "abcdef"], expected: "***" },
    { title: "a PEM line by line", text: "key:\nLINE-ONE\nLINE-TWO\n", secrets: ["LINE-ONE\r\nLINE-TWO\n"], expected: "key:\n***\n***\n" },
    { title: "blank secrets are ignored", text: "a b", secrets: ["", "  "], expected: "a b" },
  ];
  for (const { title, text, secrets, expected } of cases) {
    it(title, function () {
      assert.equal(maskSecrets(text, secrets), expected);
    });
  }
});
