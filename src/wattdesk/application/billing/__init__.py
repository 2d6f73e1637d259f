"""Parts of the billing run use case (application.billing_run): reads, determinants, hold rules, bulk writes."""
