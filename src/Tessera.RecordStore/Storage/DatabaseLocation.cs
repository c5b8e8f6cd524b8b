using Npgsql;

namespace Tessera.RecordStore.Storage;

/// <summary>Which database a store runs on, parsed from <c>--db</c> or <c>TESSERA_DB</c>.</summary>
public sealed record DatabaseLocation(DatabaseKind Kind, string ConnectionString)
{
    /// <summary>The embedded default: a SQLite file in the working directory's data folder.</summary>
    public static DatabaseLocation DefaultSqlite => FromSqlitePath(Path.Combine("data", "tessera.db"));

    public static DatabaseLocation FromSqlitePath(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        return new DatabaseLocation(DatabaseKind.Sqlite, $"Data Source={full};Cache=Shared;Pooling=True;Default Timeout=60");
    }

    /// <summary>
    /// Accepts <c>sqlite:&lt;path&gt;</c>, a PostgreSQL URL (<c>postgres://user:pw@host:5432/db</c>)
    /// or a PostgreSQL connection string (<c>Host=...;Database=...</c>).
    /// </summary>
    public static DatabaseLocation Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultSqlite;
        }

        text = text.Trim();
        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = text["sqlite:".Length..];
            if (path.Length == 0)
            {
                throw new FormatException("The SQLite location is empty: write it as sqlite:<path>, for example sqlite:data/tessera.db.");
            }

            return FromSqlitePath(path);
        }

        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new DatabaseLocation(DatabaseKind.Postgres, FromPostgresUrl(text));
        }

        if (text.Contains('=') && (text.Contains("Host", StringComparison.OrdinalIgnoreCase) || text.Contains("Server", StringComparison.OrdinalIgnoreCase)))
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(text);
                return new DatabaseLocation(DatabaseKind.Postgres, builder.ConnectionString);
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"The PostgreSQL connection string is not valid ({e.Message}). Write it as Host=localhost;Database=tessera;Username=...;Password=... or as postgres://user:password@host:5432/database.", e);
            }
        }

        throw new FormatException($"Unrecognised database '{Redact(text)}'. Use sqlite:<path> for the embedded store, or a PostgreSQL URL (postgres://user:password@host:5432/database) or connection string (Host=...;Database=...).");
    }

    private static string FromPostgresUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("The PostgreSQL URL is not valid: write it as postgres://user:password@host:5432/database.");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            if (kv.Length == 2)
            {
                builder[Uri.UnescapeDataString(kv[0])] = Uri.UnescapeDataString(kv[1]);
            }
        }

        if (string.IsNullOrEmpty(builder.Database))
        {
            throw new FormatException("The PostgreSQL URL names no database: add it after the host, as in postgres://user:password@host:5432/tessera.");
        }

        return builder.ConnectionString;
    }

    /// <summary>A description safe for logs: never shows a password.</summary>
    public string Describe()
    {
        if (Kind == DatabaseKind.Sqlite)
        {
            return "SQLite " + ConnectionString.Split(';')[0].Replace("Data Source=", string.Empty, StringComparison.Ordinal);
        }

        var b = new NpgsqlConnectionStringBuilder(ConnectionString);
        return $"PostgreSQL {b.Host}:{b.Port}/{b.Database}";
    }

    private static string Redact(string text) => text.Length > 40 ? text[..40] + "…" : text;
}

public enum DatabaseKind
{
    Sqlite,
    Postgres,
}
