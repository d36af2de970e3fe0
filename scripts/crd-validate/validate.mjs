// Validates custom resources against their CRDs' schemas (the kubernetes-models packages carry them, with a
// validator): reads a JSON array of resources on stdin, prints one line per resource, exits 1 if any is invalid and 2
// if a kind is unknown here. Called by scripts/check-deploy.
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = {
  "cert-manager.io/v1 Certificate": Certificate,
  "monitoring.coreos.com/v1 ServiceMonitor": ServiceMonitor,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
let status = 0;
for (const { source, resource } of JSON.parse(input)) {
  const key = `${resource.apiVersion} ${resource.kind}`;
  const name = `${source}: ${resource.kind} ${resource.metadata?.name}`;
  const Model = models[key];
  if (!Model) {
    console.log(`${name}: no schema for ${key}`);
    status = Math.max(status, 2);
    continue;
  }
  try {
    new Model(resource).validate();
    console.log(`${name}: valid (${key})`);
  } catch (error) {
    console.log(`${name}: INVALID: ${error.message}`);
    status = Math.max(status, 1);
  }
}
process.exit(status);
