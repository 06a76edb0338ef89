// AciAgentStop's inputs: the start task's rules for what both tasks share, plus what to remove.
import {
  bool,
  choice,
  httpsBaseUrl,
  invalid,
  listItems,
  nonEmpty,
  parseEach,
  parseInput,
  required,
  uniqueIgnoringCase,
  valueOf,
  valuesOrThrow,
  withDefault,
  asIs,
  type InputReader,
  type PipelineVariables,
} from "../core/inputSource";
import {
  namePrefix,
  poolName,
  registration,
  registrationUrlProblems,
  resourceGroupName,
  runIdentity,
  type Registration,
} from "../run/inputs";
import type { RunIdentity } from "../run/names";

/** namePrefix of a stop that removes every fleet of the run (a final clean-up job). */
export const EVERY_FLEET = "*";

export const STOP_SCOPES = ["run", "names", "expired"] as const;
export type StopScope = (typeof STOP_SCOPES)[number];

export interface StopConfig {
  serviceConnection: string;
  resourceGroup: string;
  pool: string;
  /** https, without a trailing slash. */
  organizationUrl: string;
  registration: Registration;
  scope: StopScope;
  /** For scope names. */
  containerGroupNames: string[];
  /**
   * For scope run: the fleet (`{namePrefix}-{runId}`) to remove, or EVERY_FLEET; for scope
   * expired: offline agents whose names start with `{namePrefix}-` are removed.
   */
  namePrefix: string;
  collectLogs: boolean;
  run: RunIdentity;
}

const ACI_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseStopInputs(read: InputReader, vars: PipelineVariables): StopConfig {
  const scope = parseInput(read, "scope", withDefault<StopScope>("run", choice(STOP_SCOPES)));
  const namesNeeded = scope.ok && scope.value === "names";
  const fields = {
    serviceConnection: parseInput(read, "azureSubscription", required(asIs)),
    resourceGroup: parseInput(read, "resourceGroup", required(resourceGroupName)),
    pool: parseInput(read, "pool", required(poolName)),
    organizationUrl: parseInput(read, "organizationUrl", (given) =>
      required(httpsBaseUrl, "required, and System.CollectionUri is not set either")(given ?? nonEmpty(vars.collectionUri)),
    ),
    registration: registration(read),
    scope,
    containerGroupNames: parseInput(
      read,
      "containerGroupNames",
      namesNeeded ? required(atLeastOneName, namesRequired) : withDefault([], containerGroupNames),
    ),
    namePrefix: parseInput(read, "namePrefix", withDefault("azp", (text) => fleetPrefix(text, scope.ok ? scope.value : undefined))),
    collectLogs: parseInput(read, "collectLogs", withDefault(true, bool)),
    run: runIdentity(vars),
  };
  return valuesOrThrow(fields, registrationUrlProblems(valueOf(fields.registration), valueOf(fields.organizationUrl), vars.collectionUri));
}

function fleetPrefix(text: string, scope: StopScope | undefined): string {
  if (text !== EVERY_FLEET) return namePrefix(text);
  if (scope !== "run") throw invalid(`'${EVERY_FLEET}' (every fleet of the run) is only for scope run`);
  return text;
}

const namesRequired = "required when scope is names; pass $(aci.containerGroupNames) from the start step";

function atLeastOneName(text: string): string[] {
  const names = containerGroupNames(text);
  if (names.length === 0) throw invalid(namesRequired);
  return names;
}

function containerGroupNames(text: string): string[] {
  return uniqueIgnoringCase(
    parseEach(listItems(text), (name) => {
      const lower = name.toLowerCase();
      if (lower.length > 63 || !ACI_NAME.test(lower)) throw invalid(`'${name}' is not a container group name`);
      return lower;
    }),
  );
}
