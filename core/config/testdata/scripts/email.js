// The e-mail address, lowercased.
record.email.toLowerCase()
