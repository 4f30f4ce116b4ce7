//! Mailboxes, folders, messages and attachments from Exchange EDB and Outlook PST/OST files.
