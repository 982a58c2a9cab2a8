package io.robustok.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.JavaSerializer;
import org.apache.spark.serializer.KryoRegistrator;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Spark's Kryo setup: ND4J's registrator when it is on the classpath, with {@link ArraySerializer} (bulk copy) for
 * the backend's array class, and Java serialization for Java records, whose final fields Kryo's field serializer cannot set (our records are all Serializable).
 */
public final class KryoRegistration implements KryoRegistrator {
    static final String ND4J = "org.nd4j.kryo.Nd4jRegistrator";
    /** {@code -Drobustok.nd4j-kryo=true} keeps ND4J's own (per-element) array serializer: the benchmark's "before". */
    static final String ND4J_SERIALIZER = "robustok.nd4j-kryo";

    @Override
    public void registerClasses(Kryo kryo) {
        kryo.addDefaultSerializer(Record.class, JavaSerializer.class);
        try {
            Class<?> c = Class.forName(ND4J, true, Thread.currentThread().getContextClassLoader() != null
                    ? Thread.currentThread().getContextClassLoader() : KryoRegistration.class.getClassLoader());
            ((KryoRegistrator) c.getDeclaredConstructor().newInstance()).registerClasses(kryo);
        } catch (ClassNotFoundException e) {
            // data-prep alone (prep job): no ND4J arrays travel through Spark
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot initialise " + ND4J, e);
        }
        // then our bulk-copy serializer for the backend's array class, in place of ND4J's per-element one
        if (!Boolean.getBoolean(ND4J_SERIALIZER)) kryo.register(Nd4j.getBackend().getNDArrayClass(), new ArraySerializer());
    }
}
