/**
 * Bad task input, found before anything is created in Azure. Carries every problem at once so a
 * user fixes all of them in one edit; each problem starts with the name of the input it is about.
 */
export class InputError extends Error {
  override readonly name = "InputError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}
