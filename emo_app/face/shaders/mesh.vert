#version 330 core
// Lean replacement for pyrender's mesh.vert: lighting is computed per vertex (Gouraud), so the
// fragment shader is a texture fetch and a multiply. On a CPU rasteriser (llvmpipe) this is
// several times faster than per-pixel PBR, and the head's dense mesh hides the difference.
layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif
#ifdef COLOR_0_LOC
layout(location = COLOR_0_LOC) in vec4 color_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;

struct DirectionalLight {
    vec3 color;
    float intensity;
    vec3 direction;
};
struct Material {
    vec3 emissive_factor;
    vec4 base_color_factor;
    float metallic_factor;
    float roughness_factor;
#ifdef HAS_BASE_COLOR_TEX
    sampler2D base_color_texture;
#endif
};

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;
uniform Material material;
uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS];
uniform int n_directional_lights;
uniform vec3 cam_pos;
uniform vec3 ambient_light;

out vec3 lit;
out vec3 spec;
#ifdef TEXCOORD_0_LOC
out vec2 uv_0;
#endif

void main()
{
    vec4 world = M * inst_m * vec4(position, 1.0);
    gl_Position = P * V * world;
    vec3 base = material.base_color_factor.rgb;
#ifdef COLOR_0_LOC
    base *= color_0.rgb;
#endif
    vec3 n = vec3(0.0, 0.0, 1.0);
#ifdef NORMAL_LOC
    n = normalize(mat3(M * inst_m) * normal);
#endif
    vec3 v = normalize(cam_pos - world.xyz);
    float shininess = 2.0 / max(pow(material.roughness_factor, 4.0), 1e-4);
    vec3 diffuse = ambient_light;
    vec3 specular = vec3(0.0);
    for (int i = 0; i < n_directional_lights; i++) {
        vec3 l = normalize(-directional_lights[i].direction);
        vec3 radiance = directional_lights[i].color * directional_lights[i].intensity;
        // soft terminator, like skin; render.vertex_light repeats this diffuse term for the viewer's GLB
        float wrap = max((dot(n, l) + 0.25) / 1.25, 0.0);
        diffuse += radiance * wrap * 0.318;
        vec3 h = normalize(l + v);
        specular += radiance * pow(max(dot(n, h), 0.0), shininess) * 0.04 * step(0.0, dot(n, l));
    }
    lit = base * diffuse;
    spec = specular;
#ifdef TEXCOORD_0_LOC
    uv_0 = texcoord_0;
#endif
}
