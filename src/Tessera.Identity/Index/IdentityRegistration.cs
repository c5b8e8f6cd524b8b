using Microsoft.Extensions.Logging;
using Tessera.Identity.Operations;
using Tessera.Identity.Review;
using Tessera.RecordStore;

namespace Tessera.Identity.Index;

/// <summary>Adds the master patient index to a store: its tables, its model and its operations.</summary>
public static class IdentityRegistration
{
    /// <summary>
    /// Opens the index on the store and registers Patient/$match, $ihe-pix, $merge and $unmerge. The caller
    /// runs <see cref="MasterPatientIndex.RunAsync"/> in the background (the web host does), or
    /// <see cref="MasterPatientIndex.CatchUpAsync"/> when it wants every written Patient matched now.
    /// </summary>
    public static async Task<MasterPatientIndex> AddIdentityAsync(this FhirStore store, MpiOptions? options = null, ILoggerFactory? loggers = null, TimeProvider? clock = null, CancellationToken ct = default)
    {
        var index = await MasterPatientIndex.OpenAsync(store, options, loggers, clock, ct);
        store.Operations.Register(new MatchOperation(index));
        store.Operations.Register(new PixOperation(index));
        store.Operations.Register(new MergeOperation(index));
        store.Operations.Register(new UnmergeOperation(index));
        if (!store.Guards.OfType<ReviewDecisionGuard>().Any())
        {
            store.AddGuard(new ReviewDecisionGuard());
        }

        return index;
    }
}
