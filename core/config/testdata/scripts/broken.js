record.email.(
