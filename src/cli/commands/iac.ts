import type { Command } from 'commander';
import { examples, oneOf, projectOption } from '../options.js';
import { plural, print, printJson } from '../output.js';

export function registerIac(program: Command): void {
  const iac = program.command('iac').description('infrastructure as code for what the project needs on a target');
  const terraform = iac
    .command('terraform')
    .description(
      "write Terraform for the target: the lake bucket with lifecycle rules per zone, BigQuery datasets per domain and zone, product tables (schema, partitioning, clustering, labels from contracts) and bronze tables (schema from sources), Pub/Sub topics, subscriptions and dead letters, Cloud Monitoring alert policies from the SLOs, log-based metrics, the job service accounts' monitoring and Pub/Sub rights, documented variables and terraform.tfvars.example",
    );
  projectOption(terraform)
    .requiredOption('--out <dir>', 'folder to write the .tf files (and schemas/) into')
    .option('--format <format>', 'output format (terraform)', oneOf(['terraform'] as const), 'terraform')
    .option('--json', 'print the files written as JSON')
    .action(async (opts: { project: string; out: string; json?: boolean }) => {
      const [{ mkdirSync, writeFileSync }, { dirname, join }, { loadProject }, { terraformFiles }] = await Promise.all([
        import('node:fs'),
        import('node:path'),
        import('../../config/project-cache.js'),
        import('../../iac/terraform.js'),
      ]);
      const files = terraformFiles(await loadProject(opts.project));
      for (const f of files) {
        mkdirSync(dirname(join(opts.out, f.path)), { recursive: true });
        writeFileSync(join(opts.out, f.path), f.text);
      }
      if (opts.json) printJson({ out: opts.out, files: files.map((f) => f.path) });
      else print(`${plural(files.length, 'file')} in ${opts.out}: terraform -chdir=${opts.out} init && terraform -chdir=${opts.out} apply`);
    });
  examples(terraform, ['finmesh iac terraform --target gcp --out infra/', 'terraform -chdir=infra init && terraform -chdir=infra plan']);
}
