using Hl7.Fhir.Model;

namespace Tessera.Governance.Policy;

/// <summary>
/// SMART on FHIR scopes (App Launch 2.0: v1 <c>read</c>/<c>write</c>/<c>*</c> and v2 <c>cruds</c>), reduced to the
/// resource types a token may read and write, and whether it is bound to its launch patient.
/// </summary>
internal sealed record ScopeSet
{
    /// <summary>No scope claim at all: a caller authenticated without OAuth scopes (e.g. a trusted internal host).</summary>
    public static readonly ScopeSet Unrestricted = new() { AnyRead = true, AnyWrite = true };

    public bool AnyRead { get; init; }

    public bool AnyWrite { get; init; }

    public HashSet<string> ReadTypes { get; } = new(StringComparer.Ordinal);

    public HashSet<string> WriteTypes { get; } = new(StringComparer.Ordinal);

    /// <summary>Only patient/ scopes were granted: every access is within the launch patient's record.</summary>
    public bool PatientOnly { get; init; }

    public bool CanRead(string type) => AnyRead || ReadTypes.Contains(type);

    public bool CanWrite(string type) => AnyWrite || WriteTypes.Contains(type);

    public bool ReadsEverything => AnyRead;

    public static ScopeSet Parse(string scopes)
    {
        bool anyRead = false, anyWrite = false, patient = false, userOrSystem = false;
        var read = new HashSet<string>(StringComparer.Ordinal);
        var write = new HashSet<string>(StringComparer.Ordinal);
        foreach (var scope in scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var slash = scope.IndexOf('/', StringComparison.Ordinal);
            var dot = scope.LastIndexOf('.');
            if (slash <= 0 || dot <= slash)
            {
                continue; // openid, fhirUser, launch, offline_access ...
            }

            var context = scope[..slash];
            if (context is not ("patient" or "user" or "system"))
            {
                continue;
            }

            var type = scope[(slash + 1)..dot];
            var query = type.IndexOf('?', StringComparison.Ordinal);
            var permissions = scope[(dot + 1)..];
            if (query >= 0 || (type != "*" && !ModelInfo.IsKnownResource(type)))
            {
                continue;
            }

            var (r, w) = permissions switch
            {
                "read" => (true, false),
                "write" => (false, true),
                "*" => (true, true),
                _ when permissions.All(c => "cruds".Contains(c)) => (permissions.Contains('r') || permissions.Contains('s'), permissions.Contains('c') || permissions.Contains('u') || permissions.Contains('d')),
                _ => (false, false),
            };
            if (!r && !w)
            {
                continue;
            }

            patient |= context == "patient";
            userOrSystem |= context != "patient";
            if (type == "*")
            {
                anyRead |= r;
                anyWrite |= w;
            }
            else
            {
                if (r)
                {
                    read.Add(type);
                }

                if (w)
                {
                    write.Add(type);
                }
            }
        }

        var set = new ScopeSet { AnyRead = anyRead, AnyWrite = anyWrite, PatientOnly = patient && !userOrSystem };
        set.ReadTypes.UnionWith(read);
        set.WriteTypes.UnionWith(write);
        return set;
    }
}
