"""Smart fee control (智能费控): daily estimated balances of prepaid accounts and remote meter commands."""
