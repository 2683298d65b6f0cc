// Dates, durations and names as people read them.

const DAY_MS = 24 * 60 * 60 * 1000;

export function parseTime(value) {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : new Date(t);
}

// "2027-03-01 14:05 UTC": unambiguous, and the same for every viewer.
export function formatTime(value) {
  const t = parseTime(value);
  if (!t) return '—';
  return `${t.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatDate(value) {
  const t = parseTime(value);
  return t ? t.toISOString().slice(0, 10) : '—';
}

// Whole days from now until `value` (negative once past).
export function daysUntil(value, now = Date.now()) {
  const t = parseTime(value);
  if (!t) return null;
  return Math.floor((t.getTime() - now) / DAY_MS);
}

// {text: "in 45 days", level: "ok" | "soon" | "expired"}; soon is under 21 days.
export function expiry(notAfter, now = Date.now()) {
  const t = parseTime(notAfter);
  if (!t) return {text: 'unknown', level: 'ok', days: null};
  const ms = t.getTime() - now;
  const days = Math.floor(ms / DAY_MS);
  if (ms <= 0) {
    const ago = Math.max(0, Math.floor(-ms / DAY_MS));
    return {text: ago === 0 ? 'expired today' : `expired ${plural(ago, 'day')} ago`,
            level: 'expired', days};
  }
  const text = days === 0 ? 'expires today' : `${plural(days, 'day')} left`;
  return {text, level: days < 21 ? 'soon' : 'ok', days};
}

// The flag the overview puts on an expiry: under 30, 14 and 7 days left.
// {level: "expired" | "under-7" | "under-14" | "under-30" | "ok", flag:
// "under 7 days" (or null when there is nothing to flag), days, text}.
export function urgency(notAfter, now = Date.now()) {
  const e = expiry(notAfter, now);
  if (e.days === null) return {...e, level: 'ok', flag: null};
  if (e.level === 'expired') return {...e, level: 'expired', flag: null};
  for (const limit of [7, 14, 30]) {
    if (e.days < limit) return {...e, level: `under-${limit}`, flag: `under ${limit} days`};
  }
  return {...e, level: 'ok', flag: null};
}

// "in 3 minutes", "2 hours ago".
export function relative(value, now = Date.now()) {
  const t = parseTime(value);
  if (!t) return '—';
  const s = Math.round((t.getTime() - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return 'now';
  let text;
  if (abs < 60) text = plural(abs, 'second');
  else if (abs < 3600) text = plural(Math.round(abs / 60), 'minute');
  else if (abs < 86400) text = plural(Math.round(abs / 3600), 'hour');
  else text = plural(Math.round(abs / 86400), 'day');
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function sans(cert) {
  const names = cert.subject_alternative_names ?? {};
  return [...(names.dns_names ?? []), ...(names.ips ?? [])];
}

export function keyType(type) {
  return {rsa: 'RSA', ecdsa: 'ECDSA', ed25519: 'Ed25519'}[type] ?? (type || '—');
}

