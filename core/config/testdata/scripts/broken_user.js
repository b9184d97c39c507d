(record, object) => {
  const login = pinyinName(record.name);
  return { userName: login, email: login + };
}
