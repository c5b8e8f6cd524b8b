using System.Collections.Concurrent;
using System.Security.Claims;

namespace Tessera.Web.Auth;

/// <summary>
/// Access tokens this server has already validated, with the caller each one names, until the token expires. An
/// access token is a signed JWT whose validity depends only on its signature, audience and lifetime, so checking it
/// again on every request (parsing, an RSA signature check, OpenIddict's validation pipeline) only costs CPU.
/// Refused tokens are never remembered. The cache is bounded: past its capacity, expired entries are dropped,
/// then everything.
/// </summary>
internal sealed class ValidatedTokens(TimeProvider clock)
{
    internal const int Capacity = 20_000;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(ClaimsPrincipal Caller, DateTimeOffset Expires);

    public int Count => _entries.Count;

    public ClaimsPrincipal? Find(string token)
    {
        if (!_entries.TryGetValue(token, out var entry))
        {
            return null;
        }

        if (entry.Expires > clock.GetUtcNow())
        {
            return entry.Caller;
        }

        _entries.TryRemove(token, out _);
        return null;
    }

    public void Remember(string token, ClaimsPrincipal caller, DateTimeOffset? expires)
    {
        // A token without an expiry is validated every time.
        if (expires is not { } until || until <= clock.GetUtcNow())
        {
            return;
        }

        if (_entries.Count >= Capacity)
        {
            var now = clock.GetUtcNow();
            foreach (var (key, entry) in _entries)
            {
                if (entry.Expires <= now)
                {
                    _entries.TryRemove(key, out _);
                }
            }

            if (_entries.Count >= Capacity)
            {
                _entries.Clear();
            }
        }

        _entries[token] = new Entry(caller, until);
    }
}
