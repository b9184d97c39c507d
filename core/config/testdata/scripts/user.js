// The account of a person: family.given in pinyin, and the e-mail
// address made of it.
(record, object) => {
  const login = pinyinName(record.name);
  return {
    userName: login,
    email: login + "@xinghe.example.com",
    department: object.orgPath.join("/"),
  };
}
