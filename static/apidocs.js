// Render the OpenAPI document as a readable page; no CDN, no framework.
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  kids.forEach((k) => node.append(k));
  return node;
};

function schemaText(spec, schema) {
  if (!schema) return "";
  const resolve = (s) => (s && s.$ref ? spec.components.schemas[s.$ref.split("/").pop()] : s);
  return JSON.stringify(resolve(schema), (key, value) => value, 2);
}

async function main() {
  const spec = await (await fetch("/api/v1/openapi.json")).json();
  const root = document.getElementById("docs");
  root.textContent = "";
  root.append(el("p", {}, spec.info.description));
  const byTag = {};
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      (byTag[op.tags[0]] ||= []).push({ path, method, op });
    }
  }
  for (const [tag, ops] of Object.entries(byTag)) {
    root.append(el("h2", {}, tag));
    for (const { path, method, op } of ops) {
      const section = el("section", { class: "op" },
        el("div", {}, el("span", { class: `m ${method}` }, method), el("code", {}, path), " — ", op.summary));
      if (op.description) section.append(el("div", {}, op.description));
      const body = op.requestBody && Object.values(op.requestBody.content)[0].schema;
      if (body) section.append(el("details", {}, el("summary", {}, "请求 / request"), el("pre", {}, schemaText(spec, body))));
      for (const [status, resp] of Object.entries(op.responses)) {
        const content = resp.content && Object.values(resp.content)[0].schema;
        if (content && status !== "default") {
          section.append(el("details", {}, el("summary", {}, `响应 / response ${status}`), el("pre", {}, schemaText(spec, content))));
        }
      }
      root.append(section);
    }
  }
}

main().catch((err) => { document.getElementById("docs").textContent = `无法加载文档 / cannot load: ${err}`; });
