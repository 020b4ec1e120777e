// The live board: figures from GET /v1/board, refreshed when the event
// stream (GET /v1/events) announces a change; the citizen's lookup from
// GET /v1/dossiers/{code}. Plain ES module, no build step.

const STATE_LABELS = {
  received: "Đã tiếp nhận",
  processing: "Đang xử lý",
  supplement_requested: "Chờ bổ sung hồ sơ",
  paying: "Chờ nộp phí, lệ phí",
  withdrawn: "Công dân rút hồ sơ",
  stopped: "Dừng xử lý",
  result_ready: "Đã có kết quả",
  returned: "Đã trả kết quả",
};

const KIND_LABELS = {
  received: "Tiếp nhận hồ sơ",
  assigned: "Chuyển đơn vị xử lý",
  processing: "Bắt đầu xử lý",
  supplement_requested: "Yêu cầu bổ sung hồ sơ",
  supplement_received: "Đã nhận hồ sơ bổ sung",
  paying: "Chờ nộp phí, lệ phí",
  result_ready: "Đã có kết quả",
  returned: "Đã trả kết quả",
  withdrawn: "Công dân rút hồ sơ",
  stopped: "Dừng xử lý",
  transfer: "Chuyển xử lý liên thông",
  reschedule: "Đơn vị hẹn lại ngày trả",
  warning: "Cảnh báo sắp đến hạn",
  overdue: "Quá hạn xử lý",
  reschedule_refused: "Không chấp nhận hẹn lại",
  deadline_moved: "Điều chỉnh hạn xử lý",
  letter: "Gửi phiếu xin lỗi",
  letter_receipt: "Kết quả gửi phiếu xin lỗi",
};

const DELIVERY_LABELS = {
  sent: "Chờ gửi",
  sending: "Đang gửi",
  delivered: "Đã gửi tới công dân",
  "temporary-failure": "Gửi chưa được, sẽ gửi lại",
  "permanent-failure": "Không gửi được",
  "technical-failure": "Lỗi kỹ thuật, sẽ gửi lại",
};

const CHANNEL_LABELS = {
  email: "thư điện tử",
  sms: "tin nhắn",
  zalo: "Zalo",
  post: "bưu chính",
  counter: "tại Bộ phận Một cửa",
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ""));
  return e;
}

// "2024-03-08T09:00:00+07:00" -> "09:00 08/03/2024" (motcua writes +07:00).
export function vnTime(s) {
  if (!s) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(s);
  return m ? `${m[4]}:${m[5]} ${m[3]}/${m[2]}/${m[1]}` : s;
}

export function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1).replace(".", ",")}%`;
}

function render(board) {
  $("#month-label").textContent = `Tháng ${board.month.slice(5)}/${board.month.slice(0, 4)}`;
  $("#updated").textContent = `Cập nhật lúc ${vnTime(board.now)}`;
  let open = 0, dueToday = 0, late = 0, onTime = 0, lateMonth = 0;
  const body = $("#units tbody");
  body.replaceChildren();
  for (const u of board.units) {
    open += u.open;
    dueToday += u.due_today;
    late += u.late;
    onTime += u.on_time;
    lateMonth += u.late_month;
    body.append(el("tr", { "data-unit": u.code },
      el("td", {}, u.name),
      el("td", { class: "num", "data-field": "open" }, u.open),
      el("td", { class: "num", "data-field": "due_today" }, u.due_today),
      el("td", { class: u.late > 0 ? "num bad" : "num", "data-field": "late" }, u.late),
      el("td", { class: "num", "data-field": "on_time_rate" }, percent(u.on_time_rate))));
  }
  $("#total-open").textContent = open;
  $("#total-due-today").textContent = dueToday;
  $("#total-late").textContent = late;
  $("#total-rate").textContent = onTime + lateMonth > 0 ? percent(onTime / (onTime + lateMonth)) : "–";
  renderTrend(board.trend);
  const lateBody = $("#late tbody");
  lateBody.replaceChildren();
  for (const d of board.late_list) {
    const l = d.letter;
    lateBody.append(el("tr", { "data-code": d.code },
      el("td", {}, d.code),
      el("td", {}, d.unit.name ?? d.unit.code ?? ""),
      el("td", {}, d.procedure_name ?? ""),
      el("td", {}, vnTime(d.due_at)),
      el("td", {}, l ? `Số ${l.document_number}, ${CHANNEL_LABELS[l.channel] ?? l.channel}` : "Chưa gửi"),
      el("td", { "data-field": "delivery" }, l ? DELIVERY_LABELS[l.delivery] ?? l.delivery : "")));
  }
  if (board.late_list.length === 0)
    lateBody.append(el("tr", {}, el("td", { colspan: "6" }, "Không có hồ sơ quá hạn trong tháng.")));
}

// Bars of the on-time rate, one per month, as SVG.
function renderTrend(trend) {
  const ns = "http://www.w3.org/2000/svg";
  const w = 600, h = 180, pad = 24, bw = (w - 2 * pad) / trend.length;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h + 30}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Tỉ lệ đúng hạn theo tháng");
  trend.forEach((m, i) => {
    const x = pad + i * bw;
    if (m.on_time_rate !== null) {
      const bh = (h - pad) * m.on_time_rate;
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", x + 4);
      r.setAttribute("y", h - bh);
      r.setAttribute("width", bw - 8);
      r.setAttribute("height", bh);
      r.setAttribute("class", m.on_time_rate < 0.9 ? "bar low" : "bar");
      r.setAttribute("data-month", m.month);
      const t = document.createElementNS(ns, "title");
      t.textContent = `${m.month}: ${percent(m.on_time_rate)} (${m.on_time} đúng hạn, ${m.late} quá hạn)`;
      r.append(t);
      svg.append(r);
      const v = document.createElementNS(ns, "text");
      v.setAttribute("x", x + bw / 2);
      v.setAttribute("y", h - bh - 4);
      v.setAttribute("class", "val");
      v.textContent = Math.round(m.on_time_rate * 100);
      svg.append(v);
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x + bw / 2);
    label.setAttribute("y", h + 18);
    label.setAttribute("class", "lab");
    label.textContent = `${m.month.slice(5)}/${m.month.slice(2, 4)}`;
    svg.append(label);
  });
  $("#trend").replaceChildren(svg);
}

let loading = null, again = false;

async function refresh() {
  if (loading) { again = true; return; }
  loading = (async () => {
    try {
      const r = await fetch("/v1/board", { cache: "no-store" });
      if (r.ok) render(await r.json());
    } finally {
      loading = null;
      if (again) { again = false; setTimeout(refresh, 1000); }
    }
  })();
}

function live() {
  const es = new EventSource("/v1/events");
  es.addEventListener("open", () => $("#live").classList.add("on"));
  es.addEventListener("error", () => $("#live").classList.remove("on"));
  es.addEventListener("change", () => refresh());
}

async function lookup(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const out = $("#lookup-result");
  const code = String(f.get("code")).trim(), id = String(f.get("id_number")).trim();
  out.replaceChildren("Đang tra cứu…");
  const r = await fetch(`/v1/dossiers/${encodeURIComponent(code)}?id_number=${encodeURIComponent(id)}`);
  const doc = await r.json();
  if (!r.ok) {
    out.replaceChildren(el("p", { class: "bad", "data-testid": "lookup-error" },
      r.status === 404 ? "Không tìm thấy hồ sơ có mã và số giấy tờ này."
        : r.status === 429 ? "Tra cứu quá nhiều lần, vui lòng thử lại sau."
          : `Không tra cứu được (${doc.detail ?? r.status}).`));
    return;
  }
  const steps = el("ol", { class: "timeline" });
  for (const t of doc.timeline)
    steps.append(el("li", {}, el("time", {}, vnTime(t.at)), " ", KIND_LABELS[t.kind] ?? t.kind,
      // A refused reschedule is the unit's affair; its reason is for operators.
      t.reason && t.kind !== "reschedule_refused" ? ` — ${t.reason}` : "",
      t.kind === "letter_receipt" ? ` — ${DELIVERY_LABELS[t.delivery] ?? t.delivery}` : ""));
  out.replaceChildren(
    el("dl", {},
      el("dt", {}, "Mã hồ sơ"), el("dd", { "data-testid": "lookup-code" }, doc.code),
      el("dt", {}, "Tình trạng"),
      el("dd", { "data-testid": "lookup-state" },
        `${STATE_LABELS[doc.state] ?? doc.state} (mã ${doc.national_status?.code ?? "?"})`),
      el("dt", {}, "Thủ tục"), el("dd", {}, doc.procedure?.name ?? doc.procedure?.code ?? ""),
      el("dt", {}, "Đơn vị xử lý"), el("dd", {}, doc.unit?.name ?? ""),
      el("dt", {}, "Hạn trả kết quả"), el("dd", {}, vnTime(doc.due_at)),
      ...(doc.rescheduled_due_at ? [el("dt", {}, "Hẹn lại"), el("dd", {}, vnTime(doc.rescheduled_due_at))] : []),
      ...(doc.late ? [el("dt", {}, "Ghi chú"), el("dd", { class: "bad" }, "Hồ sơ đã quá hạn")] : [])),
    steps);
}

if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", () => {
    $("#lookup").addEventListener("submit", lookup);
    refresh();
    live();
    setInterval(refresh, 60000); // also without the stream (a proxy that cuts it)
  });
}
