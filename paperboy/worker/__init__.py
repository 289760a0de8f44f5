"""The worker: a schedule of jobs (ingest, index, digest) that any number of processes
share through the database. ``models`` holds the ``jobs`` table, ``loop`` the claim-and-run
loop, ``jobs`` what each job does, ``cli`` the `paperboy worker` command. Rows are claimed
with ``paperboy.store.claims``, the lease helper the digest and mail outboxes use too."""
