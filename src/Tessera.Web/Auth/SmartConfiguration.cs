using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Tessera.Web.Hosting;

namespace Tessera.Web.Auth;

/// <summary>SMART App Launch 2.0 discovery: /fhir/.well-known/smart-configuration and the CapabilityStatement's security.</summary>
internal static class SmartConfiguration
{
    public const string OAuthUrisExtension = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

    public static readonly string[] Capabilities =
    [
        "launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
        "context-ehr-patient", "context-standalone-patient", "context-banner", "sso-openid-connect",
        "permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2",
    ];

    public static readonly string[] ScopesSupported =
    [
        "openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access",
        "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs", "system/*.cruds",
        "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write", "user/*.*", "system/*.read", "system/*.*",
    ];

    public static void Map(WebApplication app) =>
        app.MapGet("/fhir/.well-known/smart-configuration", (HttpContext context, IOptions<TesseraOptions> options) =>
        {
            var server = FhirAuthentication.ServerBaseUrl(context, options.Value);
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = server + "/",
                ["jwks_uri"] = server + "/.well-known/jwks",
                ["authorization_endpoint"] = server + "/auth/authorize",
                ["token_endpoint"] = server + "/auth/token",
                ["revocation_endpoint"] = server + "/auth/revoke",
                ["introspection_endpoint"] = server + "/auth/introspect",
                ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post" },
                ["grant_types_supported"] = new[] { "authorization_code", "client_credentials", "refresh_token" },
                ["response_types_supported"] = new[] { "code" },
                ["scopes_supported"] = ScopesSupported,
                ["code_challenge_methods_supported"] = new[] { "S256" },
                ["capabilities"] = Capabilities,
            });
        });

    /// <summary>Adds the SMART service and oauth-uris to a CapabilityStatement's rest.security.</summary>
    public static void Describe(CapabilityStatement statement, string serverBase)
    {
        foreach (var rest in statement.Rest)
        {
            rest.Security = new CapabilityStatement.SecurityComponent
            {
                Cors = true,
                Service = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/restful-security-service", "SMART-on-FHIR", "SMART-on-FHIR")],
                Description = "OAuth 2.0 bearer tokens from Tessera's authorization server (SMART App Launch 2.0); see .well-known/smart-configuration.",
                Extension =
                [
                    new Extension
                    {
                        Url = OAuthUrisExtension,
                        Extension =
                        [
                            new Extension("authorize", new FhirUri(serverBase + "/auth/authorize")),
                            new Extension("token", new FhirUri(serverBase + "/auth/token")),
                            new Extension("revoke", new FhirUri(serverBase + "/auth/revoke")),
                            new Extension("introspect", new FhirUri(serverBase + "/auth/introspect")),
                        ],
                    },
                ],
            };
        }
    }
}
