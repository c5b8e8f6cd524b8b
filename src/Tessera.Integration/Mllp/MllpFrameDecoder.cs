namespace Tessera.Integration.Mllp;

/// <summary>
/// Incremental MLLP decoder: feed it whatever a read returned and it yields the complete blocks.
/// Handles blocks split across reads, several blocks per read, bytes outside blocks (discarded) and
/// blocks larger than the limit (reported as oversized once their end arrives, content dropped).
/// </summary>
internal sealed class MllpFrameDecoder
{
    private readonly int _maxMessageBytes;
    private readonly MemoryStream _buffer = new();
    private bool _inFrame;
    private bool _pendingEndBlock;
    private long _frameLength;

    public MllpFrameDecoder(int maxMessageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 1);
        _maxMessageBytes = maxMessageBytes;
    }

    /// <summary>True while a block has started but not ended: a disconnect now loses a partial message.</summary>
    public bool HasPartialFrame => _inFrame;

    /// <summary>Bytes seen outside any block, or in a block abandoned by a new start marker.</summary>
    public long DiscardedBytes { get; private set; }

    public void Decode(ReadOnlySpan<byte> data, ICollection<MllpFrame> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var i = 0;
        while (i < data.Length)
        {
            if (!_inFrame)
            {
                var start = data[i..].IndexOf(MllpFraming.StartBlock);
                if (start < 0)
                {
                    DiscardedBytes += data.Length - i;
                    return;
                }

                DiscardedBytes += start;
                i += start + 1;
                BeginFrame();
                continue;
            }

            if (_pendingEndBlock)
            {
                _pendingEndBlock = false;
                if (data[i] == MllpFraming.CarriageReturn)
                {
                    i++;
                    EndFrame(output);
                    continue;
                }

                // <FS> not followed by <CR> is not an end marker; it belongs to the content.
                Append([MllpFraming.EndBlock]);
            }

            var rest = data[i..];
            var marker = rest.IndexOfAny(MllpFraming.EndBlock, MllpFraming.StartBlock);
            if (marker < 0)
            {
                Append(rest);
                return;
            }

            Append(rest[..marker]);
            i += marker + 1;
            if (rest[marker] == MllpFraming.StartBlock)
            {
                // A new block before the old one ended: the sender gave up on the old one.
                DiscardedBytes += _frameLength + 1;
                BeginFrame();
            }
            else
            {
                _pendingEndBlock = true;
            }
        }
    }

    /// <summary>Forgets any partial block, e.g. when the connection it came from is gone.</summary>
    public void Reset()
    {
        _inFrame = false;
        _pendingEndBlock = false;
        _frameLength = 0;
        _buffer.SetLength(0);
    }

    private void BeginFrame()
    {
        Reset();
        _inFrame = true;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var room = _maxMessageBytes - _buffer.Length;
        if (room > 0)
        {
            _buffer.Write(bytes[..(int)Math.Min(room, bytes.Length)]);
        }

        _frameLength += bytes.Length;
    }

    private void EndFrame(ICollection<MllpFrame> output)
    {
        output.Add(new MllpFrame(_buffer.ToArray(), _frameLength > _maxMessageBytes, _frameLength));
        Reset();
    }
}
