#version 330 core
// See mesh.vert: lighting arrives interpolated; only the texture is sampled per pixel.
struct Material {
    vec3 emissive_factor;
    vec4 base_color_factor;
    float metallic_factor;
    float roughness_factor;
#ifdef HAS_BASE_COLOR_TEX
    sampler2D base_color_texture;
#endif
};
uniform Material material;
in vec3 lit;
in vec3 spec;
#ifdef TEXCOORD_0_LOC
in vec2 uv_0;
#endif
out vec4 frag_color;

void main()
{
    vec3 color = lit;
#ifdef HAS_BASE_COLOR_TEX
    color *= pow(texture(material.base_color_texture, uv_0).rgb, vec3(2.2));
#endif
    color += spec;
    frag_color = vec4(pow(clamp(color, 0.0, 1.0), vec3(1.0 / 2.2)), material.base_color_factor.a);
}
