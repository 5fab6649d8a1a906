// The visit code page (检查码): verify that an inspection is registered, and rate it anonymously.
// No sign-in, no cookies needed, nothing stored on the phone.

const RATINGS = [[1, "很不满意"], [2, "不满意"], [3, "一般"], [4, "满意"], [5, "很满意"]];
const STATES = { pending: "待检查", inspected: "已检查", unreachable: "未能检查", cancelled: "已取消" };
const TZ = "Asia/Shanghai";

const $ = (id) => document.getElementById(id);
const code = decodeURIComponent(location.pathname.replace(/^\/v\//, "").replace(/\/+$/, ""));
const endpoint = `/api/v1/public/visits/${encodeURIComponent(code)}`;

function show(id) {
  for (const section of ["loading", "unknown", "failed", "visit"]) $(section).hidden = section !== id;
}

function day(iso) {
  return new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, year: "numeric", month: "long", day: "numeric" })
    .format(new Date(iso));
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

async function request(url, options) {
  const response = await fetch(url, { credentials: "omit", cache: "no-store", ...options });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { status: response.status, body };
}

function failed(title, text) {
  $("failed-title").textContent = title;
  $("failed-text").textContent = text;
  show("failed");
}

function render(visit) {
  $("target").textContent = [visit.target.name, visit.target.address].filter(Boolean).join("，");
  $("scenes").textContent = visit.scenes.map((s) => s.name).join("、");
  $("departments").textContent = visit.departments.join("、");
  // The window's end is exclusive (local midnight): show the last day it covers.
  const lastDay = new Date(new Date(visit.window.end).getTime() - 1000).toISOString();
  $("window").textContent = `${day(visit.window.start)} 至 ${day(lastDay)}`;
  $("state").textContent = STATES[visit.status] || visit.status;
  if (!visit.registered) {
    $("verdict").className = "alert bad";
    $("verdict-title").textContent = "本次检查已取消";
    $("verdict-text").textContent = "该检查码对应的检查已取消或未执行。如有人以此检查码开展检查，请拨打 12345 核实。";
  }
  const people = $("inspectors");
  people.replaceChildren();
  for (const person of visit.inspectors) {
    const li = element("li");
    li.append(element("div", "name", person.full_name));
    li.append(element("div", "cert", `执法证号：${person.certificate_no || "（未登记）"}`));
    if (person.department) li.append(element("div", "meta", person.department));
    people.append(li);
  }
  if (!visit.inspectors.length) people.append(element("li", "meta", "检查组尚未指派。"));
  const items = $("items");
  items.replaceChildren();
  for (const item of visit.items) {
    const li = element("li", null, item.text);
    li.append(element("span", "basis", `${item.department} · 依据：${item.legal_basis}`));
    items.append(li);
  }
  $("form").hidden = !visit.accepting_evaluations;
  if (!visit.accepting_evaluations) closed("该检查目前不接受评价。");
  show("visit");
}

function closed(text) {
  $("form").hidden = true;
  $("closed").textContent = text;
  $("closed").hidden = false;
}

function buildStars() {
  const box = $("stars");
  for (const [value, words] of RATINGS) {
    const input = element("input");
    Object.assign(input, { type: "radio", name: "rating", id: `rating-${value}`, value: String(value) });
    const label = element("label");
    label.htmlFor = input.id;
    label.append(element("span", null, "★".repeat(value)), element("small", null, words));
    box.append(input, label);
  }
}

async function submit(event) {
  event.preventDefault();
  const picked = document.querySelector('input[name="rating"]:checked');
  const error = $("form-error");
  error.textContent = "";
  if (!picked) {
    error.textContent = "请先选择满意度。";
    return;
  }
  const comment = $("comment").value.trim();
  $("submit").disabled = true;
  try {
    const { status, body } = await request(`${endpoint}/evaluations`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rating: Number(picked.value), comment: comment || null }),
    });
    const codeName = body && body.error ? body.error.code : null;
    if (status === 201) {
      $("form").hidden = true;
      $("thanks").hidden = false;
    } else if (codeName === "evaluation.limit") {
      closed("该检查已收到足够的评价，感谢您的关注。");
    } else if (codeName === "evaluation.closed") {
      closed("该检查目前不接受评价。");
    } else if (status === 429) {
      error.textContent = "提交过于频繁，请稍后再试。";
    } else if (status === 404) {
      show("unknown");
    } else if (status === 422) {
      error.textContent = "请检查评分和意见（最多 500 字）。";
    } else {
      error.textContent = "提交失败，请稍后再试。";
    }
  } catch {
    error.textContent = "网络不可用，请联网后再提交。";
  } finally {
    $("submit").disabled = false;
  }
}

async function start() {
  buildStars();
  $("comment").addEventListener("input", () => { $("chars").textContent = String($("comment").value.length); });
  $("form").addEventListener("submit", submit);
  if (!code) {
    show("unknown");
    return;
  }
  try {
    const { status, body } = await request(endpoint);
    if (status === 200 && body) render(body);
    else if (status === 404) show("unknown");
    else if (status === 429) failed("请求过于频繁", "请稍等一分钟后再刷新本页。");
    else failed("暂时无法核验", "服务器繁忙，请稍后刷新重试。");
  } catch {
    failed("暂时无法核验", "网络不可用，请联网后刷新本页。");
  }
}

start();
