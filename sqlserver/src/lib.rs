//! Offline reader of SQL Server data files. See `../shared/docs/formats/sqlserver-mdf.md`.
