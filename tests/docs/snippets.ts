/**
 * The YAML examples of README.md and overview.md as data: each fenced `yaml` block, the
 * AciAgentStart/AciAgentStop/AciAgentStandbyPool steps in it, checks of their inputs against task.json (task-lib
 * ignores an input it does not know, so a misspelled one would pass silently at run time), and the
 * substitutions that point a step at the emulator.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface Snippet {
  /** e.g. `README.md:42`, the line of the opening fence. */
  where: string;
  text: string;
}

export type TaskName = "AciAgentStart" | "AciAgentStop" | "AciAgentStandbyPool";

export interface TaskStep {
  task: TaskName;
  major: number;
  /** The step's `name`, which prefixes its output variables (`$(aci.agentNames)`). */
  name?: string;
  inputs: Record<string, string>;
}

export interface Job {
  /** `NAME -equals value` demands of the job's pool, as written. */
  demands: { name: string; value: string }[];
  /** How many task steps come before the job in the document: the pipeline reaches it after them. */
  reachedAfterSteps: number;
}

/** One pipeline run: the task steps in the order the pipeline reaches them, and its jobs' demands. */
export interface SnippetRun {
  label: string;
  steps: TaskStep[];
  jobs: Job[];
  /** A stage of a classic release (it uses `$(Release.…)` variables), not a YAML pipeline. */
  classicRelease: boolean;
}

export function yamlSnippets(markdown: string, file: string): Snippet[] {
  const snippets: Snippet[] = [];
  const fence = /^```ya?ml[ \t]*\r?\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const line = markdown.slice(0, match.index).split("\n").length;
    snippets.push({ where: `${file}:${line}`, text: match[1] ?? "" });
  }
  return snippets;
}

const taskReference = /^(AciAgentStart|AciAgentStop|AciAgentStandbyPool)@(\d+)$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** YAML scalars as the agent hands them to a task: strings, with booleans and numbers as written. */
function inputValue(value: unknown, where: string, name: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new Error(`${where}: input ${name} is not a scalar`);
}

function taskStepOf(node: Record<string, unknown>, where: string): TaskStep | undefined {
  if (typeof node.task !== "string") return undefined;
  const reference = taskReference.exec(node.task);
  if (reference === null) return undefined;
  const inputs: Record<string, string> = {};
  if (node.inputs !== undefined) {
    if (!isRecord(node.inputs)) throw new Error(`${where}: ${node.task} has inputs that are not a mapping`);
    for (const [name, value] of Object.entries(node.inputs)) inputs[name] = inputValue(value, where, name);
  }
  return {
    task: reference[1] as TaskName,
    major: Number(reference[2]),
    ...(typeof node.name === "string" ? { name: node.name } : {}),
    inputs,
  };
}

function demandsOf(job: Record<string, unknown>): Job["demands"] {
  const pool = job.pool;
  if (!isRecord(pool)) return [];
  const demands = typeof pool.demands === "string" ? [pool.demands] : Array.isArray(pool.demands) ? pool.demands : [];
  return demands.flatMap((demand) => {
    const equals = typeof demand === "string" ? /^\s*(\S+)\s+-equals\s+(.+?)\s*$/.exec(demand) : null;
    return equals?.[1] !== undefined && equals[2] !== undefined ? [{ name: equals[1], value: equals[2] }] : [];
  });
}

/** Task steps and demanding jobs of a parsed document, in document order. */
function collect(node: unknown, where: string, steps: TaskStep[], jobs: Job[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collect(item, where, steps, jobs);
    return;
  }
  if (!isRecord(node)) return;
  const step = taskStepOf(node, where);
  if (step !== undefined) {
    steps.push(step);
    return;
  }
  if (typeof node.job === "string") {
    const demands = demandsOf(node);
    if (demands.length > 0) jobs.push({ demands, reachedAfterSteps: steps.length });
  }
  for (const value of Object.values(node)) collect(value, where, steps, jobs);
}

/**
 * The runs a snippet stands for. A whole pipeline (a mapping: `jobs`, `stages` or `steps`) is one
 * run. A list of steps is a set of separate examples, each task step its own run.
 */
export function snippetRuns(snippet: Snippet): SnippetRun[] {
  const document: unknown = parse(snippet.text);
  const classicRelease = snippet.text.includes("$(Release.");
  if (Array.isArray(document)) {
    return document.flatMap((item, index) => {
      const steps: TaskStep[] = [];
      collect(item, snippet.where, steps, []);
      return steps.map((step) => ({ label: `${snippet.where} step ${index + 1}`, steps: [step], jobs: [], classicRelease }));
    });
  }
  const steps: TaskStep[] = [];
  const jobs: Job[] = [];
  collect(document, snippet.where, steps, jobs);
  return steps.length === 0 ? [] : [{ label: snippet.where, steps, jobs, classicRelease }];
}

export interface TaskInputDefinition {
  name: string;
  type: string;
  defaultValue?: string;
  aliases?: string[];
  options?: Record<string, string>;
  properties?: Record<string, string>;
}

export interface TaskDefinition {
  name: string;
  version: { Major: number };
  inputs: TaskInputDefinition[];
}

export function taskDefinition(repositoryRoot: string, task: TaskName): TaskDefinition {
  return JSON.parse(readFileSync(join(repositoryRoot, "tasks", `${task}V1`, "task.json"), "utf8")) as TaskDefinition;
}

/**
 * What is wrong with a step as written, judged by its task.json: unknown inputs, a wrong major
 * version, a value that a fixed pick list does not offer. Empty when nothing is.
 */
export function inputProblems(step: TaskStep, definition: TaskDefinition): string[] {
  const problems: string[] = [];
  if (step.major !== definition.version.Major) problems.push(`${step.task}@${step.major}: task.json is version ${definition.version.Major}`);
  for (const [name, value] of Object.entries(step.inputs)) {
    const input = definition.inputs.find((candidate) => candidate.name === name || candidate.aliases?.includes(name) === true);
    if (input === undefined) {
      problems.push(`${step.task}: unknown input '${name}' (task.json has ${definition.inputs.map((i) => i.name).join(", ")})`);
      continue;
    }
    const fixedList = input.type === "pickList" && input.options !== undefined && input.properties?.EditableOptions !== "True";
    if (fixedList && !value.includes("$(") && input.options !== undefined && !(value in input.options)) {
      problems.push(`${step.task}: input '${name}' is '${value}', not one of ${Object.keys(input.options).join(", ")}`);
    }
  }
  return problems;
}

export interface Substitutions {
  /** Values of `$(...)` macros: secret variables, predefined variables, earlier steps' outputs. */
  macros: Record<string, string>;
  /** Values of `<placeholder>`s the docs ask the reader to fill in. */
  placeholders: Record<string, string>;
}

/** A value with its macros and placeholders replaced; throws naming any the test cannot supply. */
export function substitute(value: string, substitutions: Substitutions): string {
  const withMacros = value.replace(/\$\(([^)]+)\)/g, (whole, name: string) => {
    const replacement = substitutions.macros[name];
    if (replacement === undefined) throw new Error(`no value for ${whole}`);
    return replacement;
  });
  return withMacros.replace(/<([a-z-]+)>/gi, (whole, name: string) => {
    const replacement = substitutions.placeholders[name];
    if (replacement === undefined) throw new Error(`no value for the placeholder ${whole}`);
    return replacement;
  });
}
