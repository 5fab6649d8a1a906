// Simplified Chinese by default, English on request; the choice is kept in localStorage.

const zh = {
  app_name: "莲都综合查一次",
  skip: "跳到主要内容",
  lang_switch: "English",
  lang_switch_label: "Switch to English",
  online: "在线",
  offline: "离线",
  outbox_n: "待上传 {n}",
  attention_n: "需处理 {n}",
  last_sync: "上次同步 {t}",
  never_synced: "尚未同步",
  sync_now: "同步",
  syncing: "同步中…",
  update_ready: "有新版本可用。",
  update: "更新",
  later: "稍后",
  install_invite: "安装到主屏幕，离线也能用，数据不会被浏览器清理。",
  install: "安装",
  install_ios: "在 Safari 中点“分享”→“添加到主屏幕”，离线也能用（浏览器标签页中的数据可能在 7 天未使用后被清除）。",
  dismiss: "关闭",
  nav: "主导航",
  nav_rounds: "检查任务",
  nav_leader: "中队",
  nav_review: "审核",
  nav_outbox: "上传队列",
  sign_in: "登录",
  sign_out: "退出",
  username: "用户名",
  password: "密码",
  signing_in: "正在登录…",
  session_expired: "登录已过期，请重新登录。待上传的记录都已保存，登录后继续上传。",
  bad_credentials: "用户名或密码错误。",
  locked_out: "失败次数过多，请稍后再试。",
  need_network: "需要网络连接。",
  signed_in_as: "{name}（{dept}）",
  loading: "加载中…",
  error_generic: "出错了：{msg}",
  today_rounds: "我的检查任务",
  no_rounds: "暂无检查任务。连上网络后会自动下载。",
  pack_updated: "任务已更新 {t}",
  window: "{a} 至 {b}",
  visits_n: "{done}/{n} 已检查",
  round_visits: "检查对象",
  back: "返回",
  distance: "距此 {d}",
  km: "{n} 公里",
  m: "{n} 米",
  locating: "正在定位…",
  no_location: "无法定位",
  status_pending: "待检查",
  status_inspected: "已检查",
  status_unreachable: "无法检查",
  status_skipped: "已跳过",
  status_queued: "待上传",
  status_attention: "需处理",
  status_planned: "已计划",
  status_in_progress: "进行中",
  status_completed: "已完成",
  status_overdue: "已逾期",
  status_cancelled: "已取消",
  status_submitted: "已提交",
  status_approved: "已通过",
  status_rejected: "已退回",
  status_needs_evidence: "需补充证据",
  status_superseded: "已更正",
  status_open: "整改中",
  status_reinspection_planned: "待复查",
  status_closed: "已销号",
  kind_scheduled: "计划",
  kind_complaint: "投诉",
  kind_campaign: "专项",
  kind_reinspection: "复查",
  risk_low: "低风险",
  risk_medium: "中风险",
  risk_high: "高风险",
  visit_code: "检查码",
  visit_code_hint: "请企业扫码核验本次检查（检查场景、时间、执法人员及证号），并可匿名评价。",
  show_qr: "显示检查码",
  contact: "联系人",
  address: "地址",
  checklist: "检查清单",
  legal_basis: "法律依据",
  severity_high: "严重",
  severity_medium: "一般",
  severity_low: "轻微",
  result_pass: "合格",
  result_fail: "不合格",
  result_na: "不适用",
  result_for: "{item} 的检查结果",
  note: "备注",
  note_for: "{item} 的备注",
  photos: "照片",
  take_photo: "拍照",
  add_photo_for: "为 {item} 拍照",
  photo_required: "不合格须拍照",
  remove_photo: "删除照片",
  scene_photos: "现场照片",
  add_scene_photo: "拍现场照片",
  location: "定位",
  locate: "重新定位",
  accuracy: "精度 ±{n} 米",
  inspectors: "执法人员",
  inspectors_hint: "至少两名持执法证人员（《行政处罚法》）。",
  certificate: "执法证号 {no}",
  no_certificate: "无执法证",
  outcome: "检查结论",
  outcome_pass: "合格",
  outcome_rectify: "责令整改",
  outcome_refer: "移交立案",
  notes: "检查情况说明",
  late_reason: "补录原因",
  late_hint: "检查窗口已过，请说明补录原因。",
  signature: "企业负责人签名（可选）",
  signature_canvas: "签名区域，用手指书写",
  clear_signature: "清除签名",
  signature_saved: "已签名",
  save_draft: "草稿已自动保存",
  submit: "提交（进入上传队列）",
  submitted: "已保存到上传队列，将自动上传。",
  fix_errors: "请先完成：",
  err_unanswered: "{n} 项未选择结果",
  err_photo: "{n} 项不合格未拍照",
  err_inspectors: "执法人员不足两名持证人员",
  err_outcome: "未选择检查结论",
  err_late: "请填写补录原因",
  already_inspected: "此任务已检查并上传。",
  queued_notice: "此任务的检查记录在上传队列中。",
  revision_notice: "上次记录被{status}：{reason}。提交将作为新的修订版本。",
  outbox_title: "上传队列",
  outbox_empty: "上传队列为空，所有记录都已上传。",
  kind_evidence: "照片 {sha}",
  kind_inspection: "检查记录 {visit}",
  attempts: "已尝试 {n} 次",
  needs_attention: "需处理",
  retry: "重试",
  server_said: "服务器：{msg}",
  sent_title: "最近上传",
  evidence_missing: "缺 {n} 张照片",
  evidence_ok: "证据齐全",
  leader_title: "中队检查轮次",
  progress: "进度",
  progress_label: "{done} 已完成，{pending} 待检查，{overdue} 逾期，共 {total}",
  team: "检查组",
  edit_team: "调整检查组",
  reason: "原因",
  save_team: "保存检查组",
  team_saved: "检查组已更新。",
  cancel_round: "取消轮次",
  round_cancelled: "轮次已取消。",
  new_round: "新建临时轮次",
  round_kind: "类型",
  scene: "检查场景",
  title: "标题",
  window_start: "开始日期",
  team_reason: "团队说明（回避冲突时必填）",
  window_end: "截止日期",
  area: "属地（乡镇/街道）",
  targets: "检查对象",
  search_targets: "搜索检查对象名称",
  remove_target: "移除 {name}",
  search: "搜索",
  create_round: "创建轮次",
  round_created: "轮次已创建。",
  rectifications: "整改中的事项",
  no_rectifications: "暂无整改事项。",
  deadline: "期限 {t}",
  review_title: "审核队列",
  review_empty: "审核队列为空。",
  flags_n: "{n} 个异常标记",
  no_flags: "无异常标记",
  evidence_complete: "证据齐全",
  evidence_incomplete: "证据不全",
  squad: "中队",
  record: "检查记录",
  finished_at: "完成时间",
  submitted_by: "提交人",
  flags: "异常标记",
  flag_time: "拍摄时间不在检查时间内",
  flag_distance: "拍摄位置距检查对象过远",
  flag_duplicate: "同一照片用于其他检查对象",
  flag_no_metadata: "照片无相机信息",
  flag_before_round: "拍摄时间早于轮次",
  flag_near_duplicate: "与其他检查对象的照片高度相似",
  flag_editing: "照片经编辑软件处理",
  flag_late: "补录（超过规定期限）",
  phone_meta: "手机记录 {t}，{gps}",
  photo_missing: "照片尚未上传",
  photo_meta: "EXIF 拍摄 {t}；位置 {gps}；设备 {dev}",
  open_photo: "查看大图",
  close: "关闭",
  decision: "审核意见",
  decision_approved: "通过",
  decision_rejected: "退回",
  decision_needs_evidence: "补充证据",
  reason_required: "退回或补充证据须填写原因。",
  submit_review: "提交审核意见",
  review_saved: "审核意见已保存。",
  refresh: "刷新",
};


const DICTS = { "zh-CN": zh };
const KEY = "li-lang";
let lang = (typeof localStorage !== "undefined" && localStorage.getItem(KEY)) || "zh-CN";
if (lang !== "en") lang = "zh-CN";

export const currentLang = () => lang;

/** Switch language (and remember it); English is fetched the first time it is asked for. */
export async function setLang(next) {
  const wanted = next === "en" ? "en" : "zh-CN";
  if (!DICTS[wanted]) {
    try {
      DICTS.en = (await import("./i18n-en.js")).en;
    } catch {
      return; // offline before the worker cached it: stay in Chinese
    }
  }
  lang = wanted;
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang;
}

/** Translate a key, filling {name} placeholders. Unknown keys show as themselves. */
export function t(key, params = {}) {
  const text = (DICTS[lang] || zh)[key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? ""));
}

/** Translate when the key exists, else return the fallback (server-provided words). */
export const tOr = (key, fallback) => (key in zh ? t(key) : fallback);

const dateFmt = {};
/** Format an ISO time for people in Liandu (Asia/Shanghai), short. */
export function fmtTime(iso, withDate = true) {
  if (!iso) return "";
  const d = new Date(iso);
  const k = `${lang}|${withDate}`;
  dateFmt[k] ||= new Intl.DateTimeFormat(lang, { timeZone: "Asia/Shanghai", hour12: false,
    ...(withDate ? { month: "2-digit", day: "2-digit" } : {}), hour: "2-digit", minute: "2-digit" });
  return dateFmt[k].format(d);
}
// A window's end is exclusive (the next period starts at that instant): show its last day.
export function fmtEndDate(iso) {
  return iso ? fmtDate(new Date(new Date(iso).getTime() - 1000).toISOString()) : "";
}
export function fmtDate(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(lang, { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
                                          day: "2-digit" }).format(new Date(iso));
}
