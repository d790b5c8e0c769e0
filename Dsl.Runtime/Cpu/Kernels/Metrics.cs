namespace Dsl.Runtime.Cpu;

/// <summary>Classification metrics.</summary>
public static unsafe class Metrics
{
    /// <summary>Samples whose label scores among the k largest (a tie counts only if fewer than k scores are strictly greater).</summary>
    public static int TopK(int n, int classes, float* logitsOrProbs, int* labels, int k)
    {
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            float* row = logitsOrProbs + (long)i * classes;
            float target = row[labels[i]];
            int greater = 0;
            for (int j = 0; j < classes; j++)
                if (row[j] > target) greater++;
            if (greater < k) correct++;
        }
        return correct;
    }
}
