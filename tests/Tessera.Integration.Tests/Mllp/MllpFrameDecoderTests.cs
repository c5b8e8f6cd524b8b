using System.Text;
using Tessera.Integration.Mllp;

namespace Tessera.Integration.Tests.Mllp;

public sealed class MllpFrameDecoderTests
{
    private static byte[] Framed(string s) => MllpFraming.Frame(Encoding.ASCII.GetBytes(s));

    private static List<string> Texts(IEnumerable<MllpFrame> frames) => frames.Select(f => Encoding.ASCII.GetString(f.Payload)).ToList();

    [Fact]
    public void A_frame_fed_byte_by_byte_comes_out_once_complete()
    {
        var decoder = new MllpFrameDecoder(1024);
        var frames = new List<MllpFrame>();
        var bytes = Framed("MSH|one");

        for (var i = 0; i < bytes.Length; i++)
        {
            Assert.Empty(frames);
            decoder.Decode(bytes.AsSpan(i, 1), frames);
        }

        Assert.Equal(["MSH|one"], Texts(frames));
        Assert.False(decoder.HasPartialFrame);
    }

    [Fact]
    public void Several_frames_and_junk_in_one_read()
    {
        var decoder = new MllpFrameDecoder(1024);
        var frames = new List<MllpFrame>();
        var bytes = Encoding.ASCII.GetBytes("noise\r\n").Concat(Framed("A")).Concat("\r\n"u8.ToArray()).Concat(Framed("B")).Concat(Framed("C")).ToArray();

        decoder.Decode(bytes, frames);

        Assert.Equal(["A", "B", "C"], Texts(frames));
        Assert.Equal(9, decoder.DiscardedBytes);
    }

    [Fact]
    public void End_marker_split_across_reads_and_a_lone_fs_inside_content()
    {
        var decoder = new MllpFrameDecoder(1024);
        var frames = new List<MllpFrame>();

        decoder.Decode([0x0B, (byte)'x', 0x1C], frames);
        Assert.Empty(frames);
        decoder.Decode([(byte)'y', 0x1C], frames);
        Assert.Empty(frames);
        decoder.Decode([0x0D], frames);

        Assert.Equal(["x\u001cy"], Texts(frames));
    }

    [Fact]
    public void A_new_start_marker_abandons_an_unfinished_frame()
    {
        var decoder = new MllpFrameDecoder(1024);
        var frames = new List<MllpFrame>();

        decoder.Decode([0x0B, (byte)'l', (byte)'o', (byte)'s', (byte)'t', .. Framed("kept")], frames);

        Assert.Equal(["kept"], Texts(frames));
    }

    [Fact]
    public void An_oversized_frame_is_flagged_keeps_its_head_and_the_next_frame_still_decodes()
    {
        var decoder = new MllpFrameDecoder(8);
        var frames = new List<MllpFrame>();

        decoder.Decode([.. Framed("MSH|0123456789abcdef"), .. Framed("small")], frames);

        Assert.True(frames[0].IsOversized);
        Assert.Equal(20, frames[0].Length);
        Assert.Equal("MSH|0123", Encoding.ASCII.GetString(frames[0].Payload));
        Assert.False(frames[1].IsOversized);
        Assert.Equal("small", Encoding.ASCII.GetString(frames[1].Payload));
    }

    [Fact]
    public void Reset_drops_a_partial_frame()
    {
        var decoder = new MllpFrameDecoder(64);
        var frames = new List<MllpFrame>();
        decoder.Decode([0x0B, (byte)'p'], frames);
        Assert.True(decoder.HasPartialFrame);

        decoder.Reset();
        decoder.Decode([0x1C, 0x0D], frames);

        Assert.Empty(frames);
    }
}
