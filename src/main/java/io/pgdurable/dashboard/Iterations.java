package io.pgdurable.dashboard;

import java.util.HashMap;
import java.util.Map;

/**
 * Which loop iteration each node's last transition belongs to, read from its stamp.
 *
 * <p>A node's {@code status_details.execution_id} names the orchestration generation that last
 * wrote it: {@code <instance>::<generation>}, where a child orchestration (a loop, or a join or race
 * branch) has the id {@code <parent>::<parent generation>::<node>}. A loop runs each iteration as
 * a new generation of its child, so in {@code ab12cd34::1::<loop>::5::<branch>::1} the loop
 * {@code <loop>} is in its fifth iteration. A loop at the root of the graph runs its iterations as
 * the instance's own generations ({@code <instance>::<generation>}). A node inside a loop gets the
 * iteration of the innermost loop around it; a loop gets the highest iteration any stamp shows for it.
 */
final class Iterations {

    private Iterations() {
    }

    /**
     * @param stamps a node's stamp by node id (null: none)
     * @param types  each node's type by node id
     * @param root   the graph's root node
     */
    static Map<String, Integer> of(Map<String, String> stamps, Map<String, String> types, String root) {
        boolean rootLoop = "LOOP".equals(types.get(root));
        Map<String, Integer> out = new HashMap<>();
        for (Map.Entry<String, String> e : stamps.entrySet()) {
            String stamp = e.getValue();
            if (stamp == null) {
                continue;
            }
            String[] parts = stamp.split("::", -1);
            Integer innermost = null;
            // parts: instance, gen, node, gen, node, gen, ...; the instance's generation is the
            // root loop's iteration
            for (int k = 0; k + 1 < parts.length; k += 2) {
                String node = k == 0 ? (rootLoop ? root : null) : parts[k];
                Integer gen = parseGeneration(parts[k + 1]);
                if (gen != null && node != null && "LOOP".equals(types.get(node))) {
                    out.merge(node, gen, Math::max);
                    innermost = gen;
                }
            }
            if (innermost != null && !e.getKey().equals(root) && !"LOOP".equals(types.get(e.getKey()))) {
                out.put(e.getKey(), innermost);
            }
        }
        return out;
    }

    private static Integer parseGeneration(String text) {
        if (text.isEmpty() || text.length() > 9 || !text.chars().allMatch(Character::isDigit)) {
            return null;
        }
        return Integer.parseInt(text);
    }
}
