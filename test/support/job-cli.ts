import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { testDatabaseUrl } from "./db.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One of `jobs/` as a child process on the test database, as an operator runs it (`npm run …`);
 * `env` adds to or unsets (undefined) its environment.
 */
export function runJobCli(
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  return startJobCli(script, args, env).result;
}

/** `runJobCli`, with the child at hand (to signal or kill it) while it runs. */
export function startJobCli(
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): { child: ChildProcess; result: Promise<CliResult> } {
  let child!: ChildProcess;
  const result = new Promise<CliResult>((resolve) => {
    child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "jobs", script), ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "test",
        DATABASE_URL: testDatabaseUrl(),
        NYLAS_API_KEY: "nyk_unused_here",
        ...env,
      } as Record<string, string>,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += String(c)));
    child.stderr!.on("data", (c) => (stderr += String(c)));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, result };
}
