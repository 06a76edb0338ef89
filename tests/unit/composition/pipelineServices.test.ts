import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import { inputReader, urlCredentials } from "../../../src/composition/pipelineServices";
import { FakePlatform } from "../../helpers/fakePlatform";

describe("inputReader", () => {
  it("reads startupScript as a secret: without echo, and masked", () => {
    const script = "curl -u ci:s3cret https://tools.example/install.sh | sh";
    const platform = new FakePlatform({ inputs: { startupScript: script } });
    const echoed = sinon.spy(platform, "getInput");
    assert.equal(inputReader(platform).get("startupScript"), script);
    assert.equal(echoed.callCount, 0, "read through getInput, which task-lib echoes in debug output");
    assert.deepEqual(platform.secrets, [script]);
  });

  it("reads organizationUrl without echo, masking the user name and password it carries", () => {
    const platform = new FakePlatform({ inputs: { organizationUrl: "https://ci:p%40ss@dev.azure.com/contoso" } });
    const echoed = sinon.spy(platform, "getInput");
    assert.equal(inputReader(platform).get("organizationUrl"), "https://ci:p%40ss@dev.azure.com/contoso");
    assert.equal(echoed.callCount, 0, "read through getInput, which task-lib echoes in debug output");
    assert.deepEqual([...platform.secrets].sort(), ["ci", "p%40ss", "p@ss"]);
  });

  it("masks nothing of an organizationUrl without credentials", () => {
    const platform = new FakePlatform({ inputs: { organizationUrl: "https://dev.azure.com/contoso" } });
    assert.equal(inputReader(platform).get("organizationUrl"), "https://dev.azure.com/contoso");
    assert.deepEqual(platform.secrets, []);
  });
});

describe("urlCredentials", () => {
  const cases: Record<string, { url: string | undefined; expected: string[] }> = {
    "user and password": { url: "https://u:pw@host/", expected: ["u", "pw"] },
    "a token as the user name": { url: "https://tok3n@dev.azure.com/org", expected: ["tok3n"] },
    "none": { url: "https://dev.azure.com/org", expected: [] },
    "not a URL": { url: "dev.azure.com/org", expected: [] },
    "unset": { url: undefined, expected: [] },
  };
  for (const [name, { url, expected }] of Object.entries(cases)) {
    it(name, () => { assert.deepEqual(urlCredentials(url), expected); });
  }
});
