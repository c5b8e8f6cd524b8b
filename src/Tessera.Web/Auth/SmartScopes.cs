using System.Security.Claims;
using System.Text.RegularExpressions;

namespace Tessera.Web.Auth;

/// <summary>What a SMART resource scope lets its holder do (SMART App Launch 2.0 "cruds").</summary>
[Flags]
internal enum ScopePermissions
{
    None = 0,
    Create = 1,
    Read = 2,
    Update = 4,
    Delete = 8,
    Search = 16,
    All = Create | Read | Update | Delete | Search,
}

/// <summary>
/// One SMART resource scope: <c>patient/Observation.rs</c>, <c>user/*.cruds</c>, <c>system/*.rs</c>, or the v1 forms
/// <c>patient/Observation.read</c>, <c>user/*.write</c>, <c>user/*.*</c> (read = rs, write = cud, * = cruds).
/// </summary>
internal sealed partial record SmartScope(string Context, string ResourceType, ScopePermissions Permissions)
{
    public const string Patient = "patient";
    public const string User = "user";
    public const string System = "system";

    /// <summary>Scopes that are not about resources: identity, launch context and refresh tokens.</summary>
    public static readonly IReadOnlySet<string> NonResourceScopes = new HashSet<string>(StringComparer.Ordinal)
    {
        "openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access",
    };

    [GeneratedRegex(@"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();

    /// <summary>Parses a resource scope; null with a reason when the text is not one this server understands.</summary>
    public static SmartScope? TryParse(string text, out string? problem)
    {
        problem = null;
        if (text.Contains('?', StringComparison.Ordinal))
        {
            problem = $"'{text}': granular scopes (with a query) are not supported; ask for the whole resource type.";
            return null;
        }

        var match = Grammar().Match(text);
        if (!match.Success)
        {
            problem = $"'{text}' is not a SMART scope: use context/Type.permissions, e.g. patient/Observation.rs or user/*.cruds.";
            return null;
        }

        var permissions = ParsePermissions(match.Groups[3].Value);
        if (permissions == ScopePermissions.None)
        {
            problem = $"'{text}': permissions are read, write, * (SMART v1) or letters from c, r, u, d, s in that order (SMART v2).";
            return null;
        }

        return new SmartScope(match.Groups[1].Value, match.Groups[2].Value, permissions);
    }

    private static ScopePermissions ParsePermissions(string text)
    {
        switch (text)
        {
            case "read":
                return ScopePermissions.Read | ScopePermissions.Search;
            case "write":
                return ScopePermissions.Create | ScopePermissions.Update | ScopePermissions.Delete;
            case "*":
                return ScopePermissions.All;
        }

        const string order = "cruds";
        var result = ScopePermissions.None;
        var last = -1;
        foreach (var c in text)
        {
            var at = order.IndexOf(c, StringComparison.Ordinal);
            if (at <= last)
            {
                return ScopePermissions.None;
            }

            last = at;
            result |= (ScopePermissions)(1 << at);
        }

        return result;
    }

    /// <summary>Whether this scope grants everything <paramref name="other"/> grants.</summary>
    public bool Covers(SmartScope other) =>
        Context == other.Context
        && (ResourceType == "*" || ResourceType == other.ResourceType)
        && (Permissions & other.Permissions) == other.Permissions;

    public bool Grants(string resourceType, ScopePermissions permission) =>
        (ResourceType == "*" || ResourceType == resourceType) && (Permissions & permission) == permission;
}

/// <summary>Checks of requested scopes against a client's registration and the kind of caller.</summary>
internal static class ScopeRules
{
    /// <summary>
    /// Returns why the requested scopes cannot be granted (null when they can): each must be well-formed, allowed
    /// to this client (a registered scope covers it, e.g. user/*.cruds covers user/Observation.rs) and fit the
    /// caller (system/ scopes for systems only; patient/ scopes only for people).
    /// </summary>
    public static string? Refusal(IEnumerable<string> requested, IReadOnlyCollection<string> allowed, bool forSystem, bool patientOnly = false)
    {
        var allowedScopes = allowed.Select(a => SmartScope.TryParse(a, out _)).OfType<SmartScope>().ToList();
        foreach (var scope in requested)
        {
            if (SmartScope.NonResourceScopes.Contains(scope))
            {
                if (forSystem)
                {
                    return $"'{scope}' is for people signing in; the client credentials grant takes system/ scopes only.";
                }

                if (!allowed.Contains(scope))
                {
                    return $"'{scope}' is not among the scopes this client is registered for.";
                }

                continue;
            }

            var parsed = SmartScope.TryParse(scope, out var problem);
            if (parsed is null)
            {
                return problem;
            }

            if (forSystem != (parsed.Context == SmartScope.System))
            {
                return forSystem
                    ? $"'{scope}': the client credentials grant takes system/ scopes only."
                    : $"'{scope}': system/ scopes are for the client credentials grant; people get patient/ or user/ scopes.";
            }

            if (patientOnly && parsed.Context != SmartScope.Patient)
            {
                return $"'{scope}': citizen and carer accounts are granted patient/ scopes only.";
            }

            if (!allowedScopes.Any(a => a.Covers(parsed)))
            {
                return $"'{scope}' goes beyond the scopes this client is registered for ({string.Join(' ', allowed)}).";
            }
        }

        return null;
    }
}

/// <summary>What an access token lets its holder do: its resource scopes and its patient in context.</summary>
internal sealed class SmartGrant
{
    private SmartGrant(IReadOnlyList<SmartScope> scopes, string? patient)
    {
        Scopes = scopes;
        Patient = patient;
    }

    public IReadOnlyList<SmartScope> Scopes { get; }

    /// <summary>The id of the patient in context (the token's <c>patient</c> claim), if any.</summary>
    public string? Patient { get; }

    // A validated token's caller is one principal object for the token's lifetime (ValidatedTokens), so its grant is
    // worked out once instead of parsing its scopes twice per request.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClaimsPrincipal, SmartGrant> Grants = new();

    public static SmartGrant From(ClaimsPrincipal principal) => Grants.GetValue(principal, Parse);

    private static SmartGrant Parse(ClaimsPrincipal principal)
    {
        var scopes = principal.FindAll(TesseraClaims.Scope)
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(s => SmartScope.TryParse(s, out _))
            .OfType<SmartScope>()
            .ToList();
        return new SmartGrant(scopes, principal.FindFirst(TesseraClaims.Patient)?.Value);
    }

    /// <summary>
    /// How the token may do <paramref name="permission"/> on <paramref name="resourceType"/>: freely (a user/ or
    /// system/ scope grants it), only within the patient in context (only patient/ scopes grant it), or not at all.
    /// </summary>
    public ScopeReach Reach(string resourceType, ScopePermissions permission)
    {
        var reach = ScopeReach.None;
        foreach (var scope in Scopes)
        {
            if (scope.Grants(resourceType, permission))
            {
                if (scope.Context != SmartScope.Patient)
                {
                    return ScopeReach.Unconfined;
                }

                reach = ScopeReach.PatientCompartment;
            }
        }

        return reach;
    }
}

internal enum ScopeReach
{
    None,
    PatientCompartment,
    Unconfined,
}
