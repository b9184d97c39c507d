function initials(name) {
  return pinyin(name, {initials: true});
}
(record) => ({ short: initials(record.name) })
