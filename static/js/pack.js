// Reading the offline pack (schemas/pack.py): rounds with scene, window and team; visits with their
// merged checklist (item ids grouped per department); targets; scene versions with items; open
// rectifications; the user's latest record per visit.

export const EMPTY = { rounds: [], visits: [], targets: [], scene_versions: [], rectifications: [], inspections: [] };

export function index(pack) {
  const p = { ...EMPTY, ...(pack || {}) };
  const byId = (list) => new Map((list || []).map((x) => [x.id, x]));
  const item = new Map();
  for (const v of p.scene_versions || []) for (const i of v.items || []) item.set(i.id, i);
  return {
    raw: p,
    rounds: p.rounds || [],
    visits: p.visits || [],
    round: byId(p.rounds),
    visit: byId(p.visits),
    target: byId(p.targets),
    version: byId(p.scene_versions),
    item,
    rectifications: p.rectifications || [],
    inspections: p.inspections || [],
  };
}

export const sceneName = (round) =>
  round.title || (round.scene && (round.scene.name || round.scene.code)) || `#${round.id}`;
export const windowOf = (round) => ({
  start: (round.window && round.window.start) || round.window_start,
  end: (round.window && round.window.end) || round.window_end,
});
export const teamOf = (round) => round.team || round.members || [];

export function roundIdsOf(visit) {
  if (Array.isArray(visit.round_ids) && visit.round_ids.length) return visit.round_ids;
  return visit.round_id ? [visit.round_id] : [];
}

export const visitsOf = (ix, roundId) => ix.visits.filter((v) => roundIdsOf(v).includes(roundId));
export const targetOf = (ix, visit) => ix.target.get(visit.target_id) || {};

const deptCode = (d) => (d && typeof d === "object" ? d.code : d) || "";
const deptName = (d) => (d && typeof d === "object" ? d.name || d.code : d) || "";

/** The merged checklist of a (joint) visit: [{department, name, items}] in the server's order. */
export function checklist(ix, visit) {
  if (Array.isArray(visit.checklist) && visit.checklist.length) {
    return visit.checklist.map((g) => ({
      department: deptCode(g.department),
      name: deptName(g.department),
      items: (g.item_ids || []).map((id) => ix.item.get(id)).filter(Boolean),
    }));
  }
  // An older pack without a merged checklist: merge the rounds' pinned versions here.
  const seen = new Set();
  const groups = new Map();
  for (const rid of roundIdsOf(visit)) {
    const round = ix.round.get(rid);
    const version = round && ix.version.get(round.scene && round.scene.version_id);
    for (const item of (version && version.items) || []) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      const key = deptCode(item.department);
      if (!groups.has(key)) groups.set(key, { department: key, name: deptName(item.department), items: [] });
      groups.get(key).items.push(item);
    }
  }
  return [...groups.values()];
}

/** The officers of the visit's rounds, without repeats. */
export function team(ix, visit) {
  const seen = new Map();
  for (const rid of roundIdsOf(visit)) {
    for (const m of teamOf(ix.round.get(rid) || {})) if (!seen.has(m.id)) seen.set(m.id, m);
  }
  return [...seen.values()];
}

/** The latest stored revision of a visit's record, if the pack has one. */
export function latestInspection(ix, visitId) {
  const mine = ix.inspections.filter((i) => i.visit_id === visitId);
  mine.sort((a, b) => (b.revision || 0) - (a.revision || 0));
  return mine[0] || null;
}

export const openRectifications = (ix, targetId) =>
  ix.rectifications.filter((r) => r.target_id === targetId && r.status !== "closed");
