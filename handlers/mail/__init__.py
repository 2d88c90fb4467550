"""Mail intake: the pipeline from raw RFC 822 bytes to a case (intake.py), the texts it sends
(notices.py), and the watchers that feed it from IMAP mailboxes (imap_watcher.py) or from the
embedded ``<data dir>/inbox/`` folder (folder_watcher.py)."""
