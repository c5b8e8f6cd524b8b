namespace Tessera.Cli;

/// <summary>Reads passwords and secrets without putting them on the command line or echoing them.</summary>
internal static class Secrets
{
    /// <summary>One line from standard input (for --password-stdin / --secret-stdin), or a prompt without echo.</summary>
    public static string? Read(bool fromStdin, string prompt)
    {
        if (fromStdin)
        {
            return Console.In.ReadLine()?.TrimEnd('\r', '\n');
        }

        if (Console.IsInputRedirected)
        {
            return null;
        }

        var first = Prompt(prompt);
        var second = Prompt("Again: ");
        return first == second ? first : throw new ArgumentException("The two entries differ; run the command again.");
    }

    private static string Prompt(string prompt)
    {
        Console.Write(prompt);
        var text = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.WriteLine();
                return text.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
    }
}
